# The fairseq flags of each configuration of the DailyDialog experiment, shared by run.sh and
# study.sh: source it with $config set; it sets model, optim, common (= model, optim and the
# shared flags), smoothing (the criteria's label smoothing), nd, teacher_epochs, student_epochs,
# gen_batch, decodings, the students' checkpoint rule (average, save_every), the refinement of UL
# and NT (refine_*), the CVAE's KL annealing (cvae_anneal, updates), and for cpu and gpu the
# long Standard and AdaLabel runs (long_epochs, long_patience) and the updates of one epoch
# (epoch_updates).
# $seed (run.sh's SEED, default 1) seeds training; $STUDENT_EPOCHS (cpu and gpu) replaces the
# students' epochs, and gamma follows it (gamma_per_epoch x the epochs: 1.14 x the run's updates);
# $TEACHER_EPOCHS (cpu and gpu) replaces the teachers' 4 epochs.
#
# The ND schedule of cpu and gpu comes from STUDY.md: alpha's peak (lambda/4 = 1) lies just
# after the run's end (gamma = 1.14 x the run's updates), so alpha rises to 0.87 at the end.
# The students decoded (Standard and ND alike) are the average of their last $average
# checkpoints, $save_every updates apart (the run's end included): single checkpoints of these
# small models differ by up to 2x in Dist-2 from one to the next (STUDY.md). average=0 keeps
# the paper's rule instead: the checkpoint with the lowest validation loss (checkpoint_best.pt).
# The teacher is decoded with the checkpoint that teaches, checkpoint_best.pt.
# UL and NT refine the decoded Standard model, as the paper does: one epoch with the learning
# rate Standard ended with, held constant (refine_optim), checkpoints refine_every updates apart
# so that the average again covers the run's end.
case $config in
  cpu)  # 2 CPU cores: a 128-dim 2+2-layer transformer, 3 epochs (2,103 updates) per student
    model=(--arch transformer_nd_tiny --encoder-embed-dim 128 --decoder-embed-dim 128
           --encoder-ffn-embed-dim 256 --decoder-ffn-embed-dim 256
           --encoder-attention-heads 4 --decoder-attention-heads 4
           --dropout 0.1 --attention-dropout 0.1 --activation-dropout 0.1)
    optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.001 --lr-scheduler inverse_sqrt
           --warmup-updates 400 --max-tokens 2048 --clip-norm 1.0)
    teacher_epochs=${TEACHER_EPOCHS:-4}; student_epochs=${STUDENT_EPOCHS:-3}; epoch_updates=701; gamma_per_epoch=800
    nd=(--nd-lambda 4 --nd-gamma $((gamma_per_epoch * student_epochs)) --nd-temperature 1)
    average=5; save_every=150
    # validations come every save_every updates and at each epoch's end (~5.7 an epoch): 11 ~ 2 epochs
    long_epochs=15; long_patience=11
    refine_every=140  # 1 epoch = 701 updates
    cvae_anneal=1050  # the CVAE's KL weight reaches 1 halfway through the run
    refine_optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.00044 --lr-scheduler fixed
                  --max-tokens 2048 --clip-norm 1.0)
    gen_batch=(--max-tokens 8000)
    decodings=(greedy beam5) ;;
  gpu)  # one H200: the paper's model (6+6 layers, 512 dims) in fp16, the cpu schedule's shape
    model=(--arch transformer_nd)
    optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.0007 --lr-scheduler inverse_sqrt
           --warmup-updates 400 --max-tokens 4096 --clip-norm 1.0 --fp16)
    # ~350 updates an epoch, 5 epochs ~1,750 updates: gamma = 1.14 x that, as in cpu
    teacher_epochs=${TEACHER_EPOCHS:-4}; student_epochs=${STUDENT_EPOCHS:-5}; epoch_updates=350; gamma_per_epoch=400
    nd=(--nd-lambda 4 --nd-gamma $((gamma_per_epoch * student_epochs)) --nd-temperature 1)
    average=5; save_every=125  # the cpu rule scaled: 5 checkpoints over the last ~36% of the run
    long_epochs=15; long_patience=8  # ~3.8 validations an epoch
    refine_every=70  # 1 epoch = ~350 updates
    cvae_anneal=875  # halfway, as cpu
    refine_optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.00033 --lr-scheduler fixed
                  --max-tokens 4096 --clip-norm 1.0 --fp16)
    gen_batch=(--max-tokens 32000)
    decodings=(greedy) ;;
  paper)  # Appendix A: transformer base sizes, batch 256, Adam, warm-up, lambda 4, gamma 25600, t 1
    model=(--arch transformer_nd)
    # Eq. 17 is 2 * min(s^-1/2, s * s_wp^-3/2) / sqrt(512): inverse_sqrt with lr 2/sqrt(512 * s_wp)
    optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.000247 --lr-scheduler inverse_sqrt
           --warmup-updates 128000 --warmup-init-lr 0 --batch-size 256 --fp16)
    teacher_epochs=${PAPER_EPOCHS:-100}; student_epochs=${PAPER_EPOCHS:-100}; epoch_updates=0
    nd=(--nd-lambda 4 --nd-gamma 25600 --nd-temperature 1)
    average=0; save_every=0  # the paper's rule: the lowest validation loss
    cvae_anneal=10000  # the reference's
    refine_every=0  # the lr Standard ends with: 100 epochs (~28,400 updates) are still in the warm-up
    refine_optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.000055 --lr-scheduler fixed
                  --batch-size 256 --fp16)
    gen_batch=(--batch-size 512)
    decodings=(greedy beam5) ;;
  *) echo "unknown config '$config' (cpu, gpu or paper)" >&2; exit 2 ;;
esac
shared=(--seed "${seed:-1}" --num-workers 0 --no-progress-bar --log-format json --log-interval 50
        --best-checkpoint-metric loss)
common=("${model[@]}" "${optim[@]}" "${shared[@]}")
smoothing=(--label-smoothing 0.1)  # L_mle's (the paper's); not for FACE and AdaLabel, whose references have none
