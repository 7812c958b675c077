/* Stopping long training cleanly. While a command trains, SIGINT (Ctrl-C)
 * and SIGTERM (kill, a cluster scheduler's time limit) only note the
 * signal; the training loop reads it between steps, saves a resumable
 * checkpoint and ends with status 128 + the signal's number. A second
 * signal ends the process at once. A signal that was ignored when the
 * command started (nohup, a script's background job) stays ignored. */
#ifndef LD_CLI_STOP_H
#define LD_CLI_STOP_H

/* From now on, note SIGINT and SIGTERM instead of dying. */
void ld_stop_catch(void);
/* 0, or the signal that asked to stop since ld_stop_catch. */
int ld_stop_signal(void);
/* Both signals back to their disposition before ld_stop_catch. */
void ld_stop_release(void);
/* "SIGINT", "SIGTERM". */
const char *ld_stop_signal_name(int sig);

#endif
