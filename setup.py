"""Maps the source folders onto one import namespace: core/ is `arportal`, plugins/x/ is
`arportal.plugins.x`. Everything else about the distribution is in pyproject.toml."""

from setuptools import find_packages, setup

packages = ["arportal", "arportal.plugins"]
packages += [f"arportal.{name}" for name in find_packages("core")]
packages += [f"arportal.plugins.{name}" for name in find_packages("plugins")]

setup(packages=packages, package_dir={"arportal": "core", "arportal.plugins": "plugins"})
