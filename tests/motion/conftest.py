"""Options of the motion tests."""


def pytest_addoption(parser):
    parser.addoption("--fuzz-cases", type=int, default=None,
                     help="mutated files per motion loader in tests/motion/test_fuzz.py (default 200)")
