"""twolayer: instruments for the theory of overparameterized two-layer networks."""
__version__ = "0.1.0"
