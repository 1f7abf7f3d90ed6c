"""Video-text data: the procedural dataset and loaders for real (WebVid-layout) data."""
