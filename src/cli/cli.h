/* The subcommands of the `latdyn` program; each parses its own arguments
 * (argv[0] is the subcommand name), prints, and returns the exit status. */
#ifndef LD_CLI_H
#define LD_CLI_H

int ld_cmd_demo(int argc, char **argv);
int ld_cmd_between(int argc, char **argv); /* cli/between.c */
int ld_cmd_synth(int argc, char **argv);   /* cli/synth.c: latdyn synth between|SYSTEM ... */
/* cli/synth_systems.c: latdyn synth pendulum|reaction-diffusion|vortex (argv[0]). */
int ld_cmd_synth_system(int argc, char **argv);
int ld_cmd_eval(int argc, char **argv);    /* cli/eval.c: latdyn eval between TRUTH OUT | ... */
int ld_cmd_eval_ladid(int argc, char **argv); /* cli/eval_ladid.c: latdyn eval MODEL FILE.h5 */
int ld_cmd_fit(int argc, char **argv);      /* cli/fit.c: latdyn fit FILE.h5 -o MODEL */
int ld_cmd_predict(int argc, char **argv);  /* cli/predict.c */
int ld_cmd_finetune(int argc, char **argv); /* cli/finetune.c */

#endif
