"""Build tooling kept out of the installed package (it needs nbformat and nbconvert)."""
