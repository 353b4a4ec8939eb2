#!/usr/bin/env bash
# The paper's DailyDialog experiment end to end: preprocess -> negative teacher -> Standard
# and ND students -> decoding of the test set -> metrics table.
#
#   bash examples/dailydialog/run.sh DATA_DIR [cpu|gpu|paper] [WORK_DIR]
#
# DATA_DIR: the DailyDialog release in DATA_DIR/original/ plus, for the paper's valid/test
# split, the authors' valid_data.txt, test_data.txt and vocab.txt (see README.md here).
# Every system trains and decodes with --task negative_distillation; they differ only in the
# criterion (and the teacher in its data, D_N). The configurations are in config.sh.
# SYSTEMS (default "teacher standard nd") picks the systems, any of
#   teacher standard nd                   the recipe: D_N's teacher, MLE, ND
#   nd-wo-pred nd-wo-att nd-wo-hid        ND without one of its terms (the paper's Table 5)
#   nd-fixed-alpha                        alpha fixed to its schedule's mean over the run (Table 8)
#   nd-risefall                           alpha's peak at the run's middle (gamma = half its updates), so alpha
#                                         rises to 1 and falls back to 0.01 by the end (cpu, gpu)
#   nd-peak<P>                            alpha's peak at P% of the run's updates (gamma = P/100 x them; the
#                                         recipe's rule is 114): nd-peak130 ends at alpha 0.64 (cpu, gpu)
#   nd-hard nd-random                     one-hot targets for L_pred: the teacher's greedy responses,
#                                         random D_N responses (Table 9)
#   teacher-bottom nd-teacher-bottom      the teacher of D_b (the bottom 50%) and its student (Tables 6-7)
#   face                                  the FACE baseline (trained as Standard; EOS not counted, as its reference)
#   face-count-eos                        FACE with EOS in its counts (--face-count-eos; not the reference's)
#   adalabel                              the AdaLabel baseline (trained as Standard, plus its auxiliary decoder)
#   cvae                                  the CVAE baseline (trained as Standard, plus its latent variable)
#   ul nt                                 the UL and NT baselines, refining the decoded Standard model
#   ul-logdiff                            UL with the logdiff beta (our default before the paper's kldiv)
#   standard-refined                      their control: the same refinement with Standard's own loss
#   nd-token nd-token-wo-pred|att|hid     ND (and its Table 5 rows) with --nd-feature-norm token
#   standard-long                         Standard until validation NLL has not improved for ~2 epochs
#                                         (at most long_epochs), every update checkpoint kept
#   adalabel-long                         the same for AdaLabel
# SEED=N (default 1) seeds training and decoding of every system but the teachers (which stay
# seed 1); the names of its systems end in -seed<N> (nd-seed2, ...) for N != 1. STUDENT_EPOCHS=E
# (cpu, gpu) trains the students for E epochs instead of 3 (cpu) or 5 (gpu), ND's gamma scaled
# with it, and their names gain -ep<E> (nd-ep6; nd-ep3 is nd trained again); standard-ep<E> and
# adalabel-ep<E> are not trained on their own but are standard-long's and adalabel-long's average
# at the end of epoch E (inverse_sqrt does not depend on the run's length, and neither does either
# loss, so that is the E-epoch run); a long run not finished yet is trained up to epoch E only, and
# SYSTEMS=standard-long (adalabel-long) later goes on from there to its end (its patience counted
# afresh from there: fairseq does not keep the count in its checkpoints).
# TEACHER_EPOCHS=E (cpu, gpu) trains the teachers for E epochs instead of 4 (teacher-ep<E>,
# teacher-bottom-ep<E>), and the names of their students gain -teacher<E> (nd-teacher10-ep10); the
# schedule is inverse_sqrt, so a 4-epoch teacher's save dir copied to teacher-ep<E> goes on from there.
# SPLIT=valid decodes the validation set (greedy) into RESULTS_DIR/valid/ instead of the test set.
# DECODINGS (default: config.sh's, greedy on valid) picks the decodings, any of greedy, beam5,
# topp9 (nucleus sampling, p = 0.9, one sample a query, seeded with SEED) and topp9-seed<K> (the
# same, seeded with K).
# A student's teacher (or the Standard model a baseline refines) is trained first when it has not been.
# Resumable: every finished step leaves WORK_DIR/<step>.done and is skipped on a rerun.
# Training prints a line per epoch; full logs stay in WORK_DIR/logs.
# Variants: ND_EXTRA="--nd-hid-weight 14" adds flags to the ND student's training; RESULTS_DIR
# (default: WORK_DIR/results; examples/dailydialog replaces the committed results) receives
# outputs/, results.json and nd_training.png; PAPER_HOURS bounds each training of the paper
# configuration (fairseq's --stop-time-hours); PRINT_TRAINING=1 prints the fairseq-train command
# of each system (and of what it needs) and does nothing else.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
data=$(cd "${1:?usage: run.sh DATA_DIR [cpu|gpu|paper] [WORK_DIR]}" && pwd)
config=${2:-cpu}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${3:-$root/work/dailydialog-$config}
results=${RESULTS_DIR:-$work/results}
read -r -a nd_extra <<<"${ND_EXTRA:-}"
read -r -a systems <<<"${SYSTEMS:-teacher standard nd}"
seed=${SEED:-1}
[[ $seed =~ ^[1-9][0-9]*$ ]] || { echo "error: SEED must be a positive integer, got '$seed'" >&2; exit 2; }
[[ ${STUDENT_EPOCHS:-1} =~ ^[1-9][0-9]*$ ]] || {
  echo "error: STUDENT_EPOCHS must be a positive integer, got '$STUDENT_EPOCHS'" >&2; exit 2; }
[ -z "${STUDENT_EPOCHS:-}" ] || [ "$config" != paper ] || {
  echo "error: STUDENT_EPOCHS is for cpu and gpu; the paper configuration takes PAPER_EPOCHS" >&2; exit 2; }
[[ ${TEACHER_EPOCHS:-1} =~ ^[1-9][0-9]*$ ]] || {
  echo "error: TEACHER_EPOCHS must be a positive integer, got '$TEACHER_EPOCHS'" >&2; exit 2; }
[ -z "${TEACHER_EPOCHS:-}" ] || [ "$config" != paper ] || {
  echo "error: TEACHER_EPOCHS is for cpu and gpu; the paper configuration takes PAPER_EPOCHS" >&2; exit 2; }
split=${SPLIT:-test}
[[ $split == test || $split == valid ]] || { echo "error: SPLIT must be test or valid, got '$split'" >&2; exit 2; }
source "$here/config.sh"
[ "$split" = test ] || decodings=(greedy)
[ -z "${DECODINGS:-}" ] || read -r -a decodings <<<"$DECODINGS"
for decoding in "${decodings[@]}"; do
  [[ $decoding =~ ^(greedy|beam5|topp9|topp9-seed[1-9][0-9]*)$ ]] || {
    echo "error: DECODINGS: unknown decoding '$decoding' (greedy, beam5, topp9, topp9-seed<K>)" >&2; exit 2; }
done
ep_suffix=""; [ -z "${STUDENT_EPOCHS:-}" ] || ep_suffix="-ep$student_epochs"
seed_suffix=""; [ "$seed" = 1 ] || seed_suffix="-seed$seed"
teacher_suffix=""; [ -z "${TEACHER_EPOCHS:-}" ] || teacher_suffix="-teacher$teacher_epochs"
name_of() {  # name_of SYSTEM: its name in WORK_DIR, outputs/ and results.json
  case $1 in
    teacher*) echo "$1${teacher_suffix/#-teacher/-ep}" ;;
    *-long) echo "$1$seed_suffix" ;;
    nd*) echo "$1$teacher_suffix$ep_suffix$seed_suffix" ;;  # the students of a teacher
    *) echo "$1$ep_suffix$seed_suffix" ;;
  esac
}
for system in "${systems[@]}"; do
  [[ $system != *-long || -z ${STUDENT_EPOCHS:-} ]] || {
    echo "error: $system takes no STUDENT_EPOCHS (it stops by itself; SYSTEMS=${system%-long} STUDENT_EPOCHS=E decodes its epoch E)" >&2
    exit 2; }
done
python=$(bash "$root/examples/setup_env.sh")
export PATH="$(dirname "$python"):$PATH" PYTHONWARNINGS=ignore
user_dir="$root/nd_fairseq"
timing="$work/timing.tsv"
limit=()
[ -n "${PAPER_HOURS:-}" ] && [ "$config" = paper ] && limit=(--stop-time-hours "$PAPER_HOURS")

step() {  # step NAME COMMAND...: run once, log its wall time
  local name=$1; shift
  if [ -f "$work/$name.done" ]; then echo "== $name: done before, skipped"; return; fi
  echo "== $name ($(date -u +%H:%M:%S))"
  local start=$SECONDS
  "$@"
  echo -e "$name\t$((SECONDS - start))" >>"$timing"
  touch "$work/$name.done"
}

train() {  # train NAME DATA EPOCHS ARGS... (the model, optimizer and shared flags among ARGS)
  local name=$1 bin=$2 epochs=$3; shift 3
  if [ -n "${PRINT_TRAINING:-}" ]; then
    printf '%q ' fairseq-train "$bin" --user-dir "$user_dir" --task negative_distillation --save-dir "$work/$name" \
      --max-epoch "$epochs" --no-epoch-checkpoints "${limit[@]}" "$@"; echo; return
  fi
  fairseq-train "$bin" --user-dir "$user_dir" --task negative_distillation --save-dir "$work/$name" \
    --max-epoch "$epochs" --no-epoch-checkpoints --tensorboard-logdir "$work/tensorboard/$name" \
    "${limit[@]}" "$@" 2>&1 | tee -a "$work/logs/$name.log" | python -u -m nd_eval.progress \
    || { echo "error: training $name failed; the end of $work/logs/$name.log:" >&2; tail -5 "$work/logs/$name.log" >&2
         return 1; }
}
keep=()  # the students' last checkpoints, for the average decoded (config.sh)
[ "$average" -gt 0 ] && keep=(--save-interval-updates "$save_every" --keep-interval-updates "$average")
refine=()
[ "$refine_every" -gt 0 ] && refine=(--save-interval-updates "$refine_every" --keep-interval-updates "$average")
# AdaLabel's model: the same with the auxiliary decoder (transformer_nd[_tiny] -> transformer_adalabel[_tiny])
adalabel_model=("${common[@]/#transformer_nd/transformer_adalabel}")
recipe() {  # recipe SYSTEM: sets bin, epochs, args (without the fairseq flags of config.sh),
  # teacher_of (the system that teaches it) and refines (the system it starts from), if any
  teacher_of=""; refines=""; long_of=""; base=("${common[@]}")
  case $1 in
    teacher|teacher-bottom)
      bin=bin-negative; [ "$1" = teacher-bottom ] && bin=bin-bottom
      epochs=$teacher_epochs; args=(--criterion label_smoothed_cross_entropy "${smoothing[@]}" --seed 1) ;;
    standard) bin=bin; epochs=$student_epochs
      args=("${keep[@]}" --criterion label_smoothed_cross_entropy "${smoothing[@]}")
      # with STUDENT_EPOCHS=E, the long run's average at the end of epoch E
      [ -z "${STUDENT_EPOCHS:-}" ] || long_of=standard-long ;;
    standard-long|adalabel-long)
      [ "$epoch_updates" -gt 0 ] || { echo "error: SYSTEMS: $1 is for cpu and gpu" >&2; exit 2; }
      bin=bin; epochs=$long_epochs
      args=(--save-interval-updates "$save_every" --patience "$long_patience" --best-checkpoint-metric nll_loss)
      if [ "$1" = standard-long ]; then args+=(--criterion label_smoothed_cross_entropy "${smoothing[@]}")
      else base=("${adalabel_model[@]}"); args+=(--criterion adalabel); fi ;;
    nd|nd-wo-pred|nd-wo-att|nd-wo-hid|nd-fixed-alpha|nd-hard|nd-random|nd-teacher-bottom|nd-token|nd-token-wo-pred|\
    nd-token-wo-att|nd-token-wo-hid|nd-risefall|nd-peak*)
      bin=bin; epochs=$student_epochs; teacher_of=teacher
      args=("${keep[@]}" --criterion negative_distillation "${smoothing[@]}" "${nd[@]}")
      case $1 in nd-token*) args+=(--nd-feature-norm token) ;; esac
      case ${1/nd-token/nd} in
        nd) args+=("${nd_extra[@]}") ;;
        nd-wo-*) args+=("--nd-${1##*-wo-}-weight" 0) ;;
        nd-fixed-alpha) args+=(--nd-fixed-alpha mean) ;;
        nd-risefall|nd-peak*)  # gamma at a percentage of the run's updates; nd-risefall is nd-peak50
          peak=${1#nd-peak}; [ "$1" != nd-risefall ] || peak=50
          [[ $peak =~ ^[1-9][0-9]*$ ]] || {
            echo "error: SYSTEMS: '$1': nd-peak takes a percentage of the run's updates, e.g. nd-peak130" >&2; exit 2; }
          [ "$epoch_updates" -gt 0 ] || { echo "error: SYSTEMS: $1 is for cpu and gpu" >&2; exit 2; }
          args+=(--nd-gamma $((epoch_updates * student_epochs * peak / 100))) ;;
        nd-hard) args+=(--nd-target hard) ;;
        nd-random) args+=(--nd-target random --negative-data "$work/data/bin-negative") ;;
        nd-teacher-bottom) teacher_of=teacher-bottom ;;
      esac ;;
    face|face-count-eos)  # no smoothing, as its reference
      bin=bin; epochs=$student_epochs; args=("${keep[@]}" --criterion face)
      [ "$1" = face ] || args+=(--face-count-eos) ;;
    adalabel)
      bin=bin; epochs=$student_epochs; base=("${adalabel_model[@]}")
      args=("${keep[@]}" --criterion adalabel)
      [ -z "${STUDENT_EPOCHS:-}" ] || long_of=adalabel-long ;;
    cvae)
      bin=bin; epochs=$student_epochs; base=("${common[@]/#transformer_nd/transformer_cvae}")
      args=("${keep[@]}" --criterion cvae "${smoothing[@]}" --cvae-kl-anneal-updates "$cvae_anneal") ;;
    ul|ul-logdiff|nt|standard-refined)
      bin=bin; epochs=1; refines=standard; base=("${model[@]}" "${refine_optim[@]}" "${shared[@]}")
      args=("${refine[@]}" "${smoothing[@]}")
      case $1 in
        ul) args+=(--criterion vocab_unlikelihood --ul-alpha 1000) ;;
        ul-logdiff) args+=(--criterion vocab_unlikelihood --ul-alpha 1000 --ul-weighting logdiff) ;;
        nt) args+=(--criterion negative_training) ;;
        standard-refined) args+=(--criterion label_smoothed_cross_entropy) ;;
      esac ;;
    *) echo "error: SYSTEMS: unknown system '$1' (run.sh --help lists them)" >&2; exit 2 ;;
  esac
}
for system in "${systems[@]}"; do recipe "$system"; done  # unknown names fail before any work
if [ -n "${PRINT_TRAINING:-}" ]; then
  step() { if [ "$2" = train ]; then shift; "$@"; fi; }  # every training printed, done or not; nothing else
else
  mkdir -p "$work/logs"
fi
step preprocess bash "$root/preprocess/prepare_dailydialog.sh" "$data" "$work/data"
model_path() {  # model_path SYSTEM: the checkpoint decoded (a student's average, the teacher's best)
  if [[ $1 == teacher* ]] || [ "$average" -eq 0 ]; then echo "$work/$(name_of "$1")/checkpoint_best.pt"; return; fi
  recipe "$1"
  if [ -n "$long_of" ]; then echo "$work/$(name_of "$long_of")/checkpoint_ep${student_epochs}_avg$average.pt"
  else echo "$work/$(name_of "$1")/checkpoint_avg$average.pt"; fi
}
ready() {  # ready SYSTEM [EPOCHS]: trained (after what it needs) and, for a student, averaged, unless done;
  # EPOCHS: the long run is needed only up to the end of that epoch
  recipe "$1"
  [ -z "$teacher_of" ] || ready "$teacher_of"
  [ -z "$refines" ] || ready "$refines"
  [ -z "$long_of" ] || ready "$long_of" "$student_epochs"
  recipe "$1"
  local name; name=$(name_of "$1")
  if [ -n "$long_of" ]; then  # the last checkpoints up to the end of epoch $student_epochs of the long run
    step "average-$name" python -m nd_fairseq.average_checkpoints --inputs "$work/$(name_of "$long_of")" \
      --num-update-checkpoints "$average" --upto-update $((student_epochs * epoch_updates)) --output "$(model_path "$1")"
    return
  fi
  [ -d "$work/data/$bin" ] || [ -n "${PRINT_TRAINING:-}" ] || { echo "error: $work/data/$bin is missing: preprocess again (rm $work/preprocess.done)" >&2
                                exit 1; }
  local from=()
  [ -z "$teacher_of" ] || from=(--teacher-path "$(model_path "$teacher_of")")
  # fairseq starts from it with a fresh optimizer, schedule and data order; a rerun resumes the refinement
  [ -z "$refines" ] || from=(--finetune-from-model "$(model_path "$refines")")
  local step_name=$name
  # a long run not yet at its end is trained up to epoch EPOCHS only; run to its end later, it goes on from there
  if [ -n "${2:-}" ] && [ ! -f "$work/$name.done" ]; then epochs=$2; step_name=$name-upto-ep$2; fi
  step "$step_name" train "$name" "$work/data/$bin" "$epochs" "${base[@]}" "${from[@]}" "${args[@]}"
  if [[ $1 != teacher* && $1 != *-long ]] && [ "$average" -gt 0 ]; then
    step "average-$name" python -m nd_fairseq.average_checkpoints --inputs "$work/$name" \
      --num-update-checkpoints "$average" --output "$(model_path "$1")"
  fi
}
for system in "${systems[@]}"; do ready "$system"; done
[ -z "${PRINT_TRAINING:-}" ] || exit 0

[ "$split" = test ] || results=$results/$split
decode() {  # decode SYSTEM DECODING: the split, one response a line in its order
  local name; name=$(name_of "$1")
  local out="$results/outputs/$name.$2.txt" log="$work/logs/generate.$name.$2.log" search=(--beam 1 --seed "$seed")
  [ "$split" = test ] || log="$work/logs/generate.$split.$name.$2.log"
  case $2 in
    beam5) search=(--beam 5 --seed "$seed") ;;
    topp9) search=(--beam 1 --sampling --sampling-topp 0.9 --seed "$seed") ;;
    topp9-seed*) search=(--beam 1 --sampling --sampling-topp 0.9 --seed "${2#topp9-seed}") ;;
  esac
  mkdir -p "$results/outputs"
  fairseq-generate "$work/data/bin" --user-dir "$user_dir" --task negative_distillation \
    --path "$(model_path "$1")" --gen-subset "$split" "${search[@]}" --max-len-b 50 \
    "${gen_batch[@]}" >"$log" 2>"$log.err" || { tail -5 "$log.err" >&2; return 1; }
  python -m nd_eval.responses "$log" --expect "$work/data/text/$split.tgt" --out "$out"
}
prefix=decode; [ "$split" = test ] || prefix=decode-$split
for system in "${systems[@]}"; do
  [[ $system != *-long ]] || continue  # its rows are standard-ep<E> (STUDENT_EPOCHS=E SYSTEMS=standard), ...
  for decoding in "${decodings[@]}"; do
    step "$prefix-$(name_of "$system")-$decoding" decode "$system" "$decoding"
  done
done

vocab=()
[ -f "$data/vocab.txt" ] && vocab=(--vocab "$data/vocab.txt")
score() {
  python -m nd_eval.results --outputs "$results/outputs" --ref "$work/data/text/$split.tgt" \
    --train "$work/data/text/train.tgt" "${vocab[@]}" --json-out "$results/results.json"
}
score  # every system decoded so far into results.json (seconds; not a step, so that new systems join)
[[ " ${systems[*]} " == *" nd "* && $split == test ]] && python -m nd_eval.plot "$work/logs/$(name_of nd).log" "$results/nd_training.png"
echo "results: $results/results.json; timings: $timing"
