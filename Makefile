# The two commands of the README are `make book` and `make test`; both set up first.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export VENV

.PHONY: setup book test unit student-copies benchmarks clean

setup:
	bash scripts/setup.sh

book: setup
	bash scripts/build_book.sh

# Everything: unit tests, student copies, the browser test of the built site,
# the benchmark smoke tests, and nbval over every notebook.
test: setup
	$(PYTHON) -m pytest tests notebooks --nbval-lax -p no:cacheprovider

# The fast unit tests only (under two minutes on two cores).
unit: setup
	$(PYTHON) -m pytest tests -m "not slow" -p no:cacheprovider

student-copies: setup
	$(PYTHON) scripts/make_student_copies.py --out student

benchmarks: setup
	$(PYTHON) benchmarks/training_speed.py
	$(PYTHON) benchmarks/one_class_mnist.py

clean:
	rm -rf _build student checkpoints
