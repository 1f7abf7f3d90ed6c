"""The 4D scene field: hash-grid and HexPlane encodings, heads, background."""
