"""cnn-grader: grade notebooks for the convolutional-neural-network chapter exercises."""

__version__ = "0.1.0"
