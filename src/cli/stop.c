/* Stopping long training cleanly: see stop.h. */
#include "cli/stop.h"

#include <signal.h>
#include <stddef.h>

static const int caught[] = {SIGINT, SIGTERM};
#define CAUGHT_COUNT ((int)(sizeof caught / sizeof caught[0]))

static volatile sig_atomic_t stop_signal;
static struct sigaction previous[CAUGHT_COUNT];
static int catching;

static void note_signal(int sig) { stop_signal = sig; }

void ld_stop_catch(void)
{
    stop_signal = 0;
    struct sigaction note = {0};
    note.sa_handler = note_signal;
    note.sa_flags = SA_RESTART | SA_RESETHAND; /* a second signal: the default action */
    sigemptyset(&note.sa_mask);
    for (int i = 0; i < CAUGHT_COUNT; i++) {
        sigaction(caught[i], NULL, &previous[i]);
        if (previous[i].sa_handler != SIG_IGN)
            sigaction(caught[i], &note, NULL);
    }
    catching = 1;
}

int ld_stop_signal(void) { return stop_signal; }

void ld_stop_release(void)
{
    if (!catching)
        return;
    for (int i = 0; i < CAUGHT_COUNT; i++)
        sigaction(caught[i], &previous[i], NULL);
    catching = 0;
}

const char *ld_stop_signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}
