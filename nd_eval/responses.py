"""The responses of a fairseq-generate log, one a line in example-id order.

    python -m nd_eval.responses GENERATE_LOG --out OUT.txt [--expect REFERENCES]

``--expect`` names the references the responses must align with: a log with another number
of hypotheses is an error and OUT is not written.
"""
import argparse

from preprocess.textio import InputError, atomic_outputs, read_lines, run_cli

from .io import read_hypotheses


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nd_eval.responses", description=__doc__.split("\n\n")[0])
    parser.add_argument("log", help="output of fairseq-generate (its H- lines are read)")
    parser.add_argument("--out", required=True, help="where to write the responses, one a line")
    parser.add_argument("--expect", help="reference file with one line per example: the counts must agree")
    args = parser.parse_args(argv)
    responses = read_hypotheses(args.log)
    expected = len(read_lines(args.expect)) if args.expect else len(responses)
    if len(responses) != expected:
        raise InputError(
            f"{args.log} has {len(responses)} hypotheses for the {expected} lines of "
            f"{args.expect}: decode the whole split (every example must have a response)"
        )
    with atomic_outputs(args.out) as (out,):
        out.writelines(r + "\n" for r in responses)


if __name__ == "__main__":
    run_cli(main)
