"""Code Reviewer Environment: an RL environment for training and evaluating code reviewers."""

__version__ = "0.1.0"
