/* Writing JSON strings and numbers. See json.h. */
#include "engine/json.h"

#include <math.h>

void ld_json_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(fp, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(fp, "\\u%04x", ch);
        else
            fputc(ch, fp);
    }
    fputc('"', fp);
}

void ld_json_number(FILE *fp, const char *format, double v)
{
    if (isfinite(v))
        fprintf(fp, format, v);
    else
        fputs("null", fp);
}
