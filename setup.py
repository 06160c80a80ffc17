"""Packages of the build: every anr_studio* package on disk, plus the top-level resources/ and models/
folders shipped inside the package as anr_studio/resources and anr_studio/models (their files are
package data, listed in pyproject.toml, and found through anr_studio.fileio.shipped_path)."""

from setuptools import find_namespace_packages, find_packages, setup

SHIPPED = {"anr_studio.resources": "resources", "anr_studio.models": "models"}

packages = find_packages(include=["anr_studio*"])
for package, folder in SHIPPED.items():
    packages += [package] + [f"{package}.{sub}" for sub in find_namespace_packages(where=folder)]

setup(packages=packages, package_dir=SHIPPED)
