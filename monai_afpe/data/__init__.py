"""Data: MONAI readers that carry true physical spacing, synthetic data sets and adapters for public data."""
