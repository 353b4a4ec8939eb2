from setuptools import find_packages, setup

setup(
    name="nd_fairseq",
    version="0.1.0",
    description="Negative Distillation (Li et al., NAACL 2022) as a fairseq --user-dir plugin",
    packages=find_packages(include=["nd_fairseq", "nd_fairseq.*", "nd_eval", "preprocess"]),
    python_requires=">=3.11",
    # torch is pinned exactly: a looser pin pulls a multi-GB CUDA build (see README).
    # ve-fairseq is a prebuilt fairseq 0.12.x for Python 3.11; its import name is `fairseq`.
    install_requires=[
        "torch==2.13.0",
        "ve-fairseq==0.12.3",
        "numpy",
        "sacrebleu>=2.0",
        "nltk>=3.7",
    ],
    extras_require={"test": ["pytest", "ruff==0.17.6"], "tensorboard": ["tensorboardX"], "examples": ["matplotlib"]},
)
