/* Tests of the command-line parser every latdyn command uses
 * (cli/options.h): values land where the table says, each kind of bad
 * word gives its error, and --help wins. */
#include <string.h>

#include "cli/options.h"
#include "test.h"

typedef struct parsed {
    const char *out, *positional[2];
    int count, flag, choice, given;
    float rate;
    double span;
    uint64_t seed;
} parsed;

/* Parses the words of `line` (space-separated, at most 31) into p. */
static int parse(const char *line, parsed *p, ld_err *err)
{
    static const char *const colours[] = {"red", "green", NULL};
    char buf[256], *argv[32] = {"latdyn"};
    int argc = 1;
    strcpy(buf, line);
    for (char *w = strtok(buf, " "); w && argc < 32; w = strtok(NULL, " "))
        argv[argc++] = w;
    *p = (parsed){.count = -1, .choice = -1};
    ld_option options[] = {
        LD_OUT(&p->out),
        LD_INT("--count", &p->count, 1, 10),
        LD_FLAG("--flag", &p->flag),
        LD_CHOICE("--colour", &p->choice, colours),
        LD_FLOAT("--rate", &p->rate, 0, 1),
        LD_DOUBLE("--span", &p->span, -5, 5),
        LD_U64("--seed", &p->seed),
    };
    options[1].given = &p->given;
    options[2].given = &p->given;
    const char **const positional[] = {&p->positional[0], &p->positional[1]};
    const ld_command_line cl = {"try", options, (int)(sizeof options / sizeof *options),
                                positional, 1, 2, "A [B]"};
    return ld_parse_command_line(argc, argv, &cl, err);
}

static void expect_error(const char *line, const char *needle)
{
    parsed p;
    ld_err err = {{0}};
    int rc = parse(line, &p, &err);
    CHECK(rc == -1, "'%s': returned %d, expected an error", line, rc);
    CHECK(strstr(err.msg, needle) != NULL, "'%s': error '%s' lacks '%s'", line, err.msg,
          needle);
}

static void test_values(void)
{
    parsed p;
    ld_err err = {{0}};
    int rc = parse("a -o x --count 3 --flag --colour green --rate 0.25 --span -2.5 --seed 7 b "
                   "--count 4", &p, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    CHECK(p.out && !strcmp(p.out, "x"), "-o");
    CHECK(p.count == 4 && p.flag == 1 && p.choice == 1 && p.rate == 0.25f && p.span == -2.5 &&
              p.seed == 7, "values: count %d flag %d choice %d rate %g span %g", p.count,
          p.flag, p.choice, p.rate, p.span);
    CHECK(!strcmp(p.positional[0], "a") && !strcmp(p.positional[1], "b"), "positional words");
    CHECK(p.given == 3, "--count twice and --flag once counted: %d", p.given);
    CHECK(parse("a - --out y", &p, &err) == 0 && !strcmp(p.positional[1], "-") &&
              !strcmp(p.out, "y"), "'-' is a positional word, --out the long name of -o");
    CHECK(parse("a --out=z --count=5 --rate=0.5 --colour=red", &p, &err) == 0 &&
              !strcmp(p.out, "z") && p.count == 5 && p.rate == 0.5f && p.choice == 0,
          "--name=value: %s", err.msg);
    CHECK(parse("--nonsense --help", &p, &err) == -1, "an unknown option before --help");
    CHECK(parse("a --help --nonsense", &p, &err) == 1, "--help before anything bad");
    CHECK(parse("-h", &p, &err) == 1, "-h");
}

static void test_errors(void)
{
    expect_error("a --count", "--count needs a value");
    expect_error("a --count 11", "--count: 11 is outside 1..10");
    expect_error("a --count 2x", "--count: '2x' is not an integer");
    expect_error("a --rate nan", "--rate: 'nan' is not a finite number");
    expect_error("a --span 6", "--span: 6 is outside -5..5");
    expect_error("a --seed -1", "--seed: '-1' must not be negative");
    expect_error("a --colour blue", "--colour: 'blue' is not one of red, green");
    expect_error("a --other 1", "unknown option '--other' (latdyn try --help)");
    expect_error("a --other=1", "unknown option '--other' (latdyn try --help)");
    expect_error("a --flag=1", "--flag takes no value");
    expect_error("a --count=", "--count: '' is not an integer");
    expect_error("a b c", "unexpected argument 'c' (A [B] expected)");
    expect_error("--flag", "A [B] is required (latdyn try --help)");
}

LD_TEST_SUITE(options) = {
    {"values", test_values},
    {"errors", test_errors},
    {NULL, NULL},
};
