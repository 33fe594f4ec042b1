#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail

# Where the grader comes from: a tag of your copy of its repository, or the PyPI name `cnn-grader`.
GRADER_PACKAGE="cnn-grader @ git+https://github.com/YOUR-ORG/cnn-grader@v0.1.0"

apt-get update -q
apt-get install -y -q python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q "$GRADER_PACKAGE"
# The MNIST files exercise 9 needs, fetched and checked by SHA-256 now, so grading needs no network.
CNN_GRADER_CACHE=/autograder/mnist-cache /autograder/venv/bin/grader data fetch mnist
# Notebooks run as a uid of their own, not root: it must be able to read Python, the grader and the MNIST files.
chmod o+x /autograder
chmod -R a+rX /autograder/venv /autograder/mnist-cache
