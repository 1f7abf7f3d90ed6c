"""Text conditioning: prompt + genre composition, encoders, on-disk embedding cache."""
