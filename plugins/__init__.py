"""Built-in feature plugins; each registers through the `arportal.plugins` entry points."""
