#!/bin/sh
# The LaDID runs behind bench/RESULTS.md ("ladid: prediction quality"):
# data for three systems, one model per system (paper preset), test nMSE
# beside the two baselines, the continuous-time check on a grid twice as
# fine, and transfer to a shorter pendulum (fine-tuning vs training from
# scratch on 16 trajectories, 3 seeds). About an hour on 2 cores.
#
# usage: make && sh bench/ladid_results.sh [WORK_DIR]   (default build/ladid_results)
# then: /usr/bin/python3 bench/ladid_table.py --work WORK_DIR --write bench/RESULTS.md
set -eu
case "${1:-}" in -h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
L="$ROOT/build/latdyn"
WORK=${1:-$ROOT/build/ladid_results}
mkdir -p "$WORK" && cd "$WORK"
FIT="--epochs 100 --curriculum 10 --threads 2"
PAPER="--pe-max-scale 8"   # the paper's time encoding, as these runs had it

# data: 256 training instances (10% held out for validation), 64 test ones
$L synth pendulum -o pend_train.h5 --n 256 --seed 1 --quiet
$L synth pendulum -o pend_test.h5 --n 64 --seed 2 --quiet
$L synth pendulum -o pend_fine.h5 --n 64 --seed 2 --len 119 --dt 0.05 --quiet
$L synth pendulum -o pend_irr.h5 --n 64 --seed 2 --irregular --quiet
$L synth reaction-diffusion -o rd_train.h5 --n 256 --seed 1 --quiet
$L synth reaction-diffusion -o rd_test.h5 --n 64 --seed 2 --quiet
$L synth vortex -o vx_train.h5 --n 256 --seed 1 --quiet
$L synth vortex -o vx_test.h5 --n 64 --seed 2 --quiet

# one model per system; test nMSE over the 50 predicted frames
for sys in pend rd vx; do
    $L fit ${sys}_train.h5 -o $sys.safetensors $FIT $PAPER > ${sys}_fit.log 2>&1
    $L eval $sys.safetensors ${sys}_test.h5 --train ${sys}_train.h5 --json ${sys}_eval.json
done

# vortex again with four times the data (it overfits 230 trajectories), the
# curriculum faster and fit's default time encoding
$L synth vortex -o vx_big.h5 --n 1024 --seed 3 --quiet
$L fit vx_big.h5 -o vxb.safetensors --epochs 40 --curriculum 2 --threads 2 > vxb_fit.log 2>&1
$L eval vxb.safetensors vx_test.h5 --train vx_big.h5 --json vxb_eval.json

# continuous time: the pendulum models saw frames 0.1 apart; score them on
# the test trajectories at 0.05 spacing (between samples vs on the grid) and
# on irregular time grids
# (4 is what fit now picks by itself for this grid)
$L fit pend_train.h5 -o pend_pe4.safetensors $FIT --pe-max-scale 4 > pend_pe4_fit.log 2>&1
for m in pend pend_pe4; do
    $L eval $m.safetensors pend_test.h5 --truth pend_fine.h5 --json ${m}_fine.json
    $L eval $m.safetensors pend_irr.h5 --json ${m}_irr.json
done
$L eval pend_pe4.safetensors pend_test.h5 --train pend_train.h5 --json pend_pe4_eval.json

# transfer: pendulum of length 0.5 m instead of 1 m
$L synth pendulum -o short_train.h5 --n 48 --seed 11 --length 0.5 --quiet
$L synth pendulum -o short_test.h5 --n 64 --seed 12 --length 0.5 --quiet
for s in 1 2 3; do
    for how in tuned scratch; do
        flag=$([ $how = scratch ] && echo --from-scratch || true)
        $L finetune pend.safetensors short_train.h5 --n-train 16 --n-val 32 --epochs 40 --curriculum 4 \
            --seed $s $flag -o $how$s.safetensors --threads 2 --quiet
        $L eval $how$s.safetensors short_test.h5 --json $how${s}_eval.json
    done
done

/usr/bin/python3 "$ROOT/bench/ladid_table.py" --work "$WORK"
