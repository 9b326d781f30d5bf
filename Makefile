# Two commands on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
# Both set everything up first (idempotent, quick when already done).

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.neuralpaint-installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := libmypaint-1.5-1 mypaint-brushes dataset-fashion-mnist gcc libc6-dev
BRUSH   := /usr/share/mypaint-data/1.0/brushes/classic/dry_brush.myb

.PHONY: setup system demo test lint format bench clean

setup: system $(STAMP)

# libmypaint and its brushes from Debian's packages, unless already present (or
# NEURALPAINT_LIBMYPAINT points at a library installed some other way), and a C compiler
# for the dab twin's fused rasteriser (neuralpaint/painters/dab_raster.c).
system:
	@if [ -n "$$NEURALPAINT_LIBMYPAINT" ] || { ldconfig -p 2>/dev/null | grep -q 'libmypaint-1.5.so.1' && [ -f $(BRUSH) ] && [ -d /usr/share/datasets/fashion-mnist ] && command -v cc >/dev/null; }; then \
		echo "libmypaint, mypaint-brushes, dataset-fashion-mnist, cc: present"; \
	elif command -v apt-get >/dev/null; then \
		echo "installing $(APT_PKGS) with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS); \
	else \
		echo "no apt-get: install libmypaint 1.6 and mypaint-brushes yourself (see README)"; exit 1; \
	fi
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
		echo "installing python3-venv"; $(SUDO) apt-get install -y -qq python3-venv; }

# torch is pinned in the same pip command: an unpinned torch pulls a multi-GB CUDA build.
# Every extra: the tests cover the parameterization tools and the Photos envs too.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0" -e ".[parameterization,dev,ray,sweep]"
	touch $(STAMP)

demo: setup
	$(BIN)/neuralpaint demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: setup
	$(BIN)/neuralpaint bench all --preset quick --readme

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
