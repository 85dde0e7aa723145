# The two commands of the README are `make book` and `make test`; both set up first.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
EDITION ?= instructor
export VENV

.PHONY: setup book test unit student-copies set-repository grade benchmarks clean

setup:
	bash scripts/setup.sh

# EDITION=student builds the student edition too (into _build/html-student), from the same executed notebooks.
book: setup
	EDITION=$(EDITION) bash scripts/build_book.sh

# Everything: unit tests, student copies, both editions of the site in a browser, the benchmark
# smoke tests, the notebook run alone in a folder, and nbval over every notebook.
test: setup
	$(PYTHON) -m pytest tests notebooks --nbval-lax -p no:cacheprovider

# The fast unit tests only (a few minutes on two cores).
unit: setup
	$(PYTHON) -m pytest tests -m "not slow" -p no:cacheprovider

student-copies: setup
	$(PYTHON) scripts/make_student_copies.py --out student

# The one setting for the repository: make set-repository URL=https://github.com/<owner>/<repo>
set-repository:
	$(PYTHON) scripts/set_repository.py "$(URL)"

benchmarks: setup
	$(PYTHON) benchmarks/training_speed.py
	$(PYTHON) benchmarks/one_class_mnist.py
	$(PYTHON) benchmarks/odds_optdigits.py

# Grade handed-in notebooks: SUBMISSIONS/<student>/<NN_name>.ipynb -> grades/grades.csv and one summary per student.
grade: setup
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=DIR  (DIR/<student>/<NN_name>.ipynb)"; exit 2; }
	$(PYTHON) scripts/grade.py "$(SUBMISSIONS)" --out grades

clean:
	rm -rf _build student checkpoints grades
