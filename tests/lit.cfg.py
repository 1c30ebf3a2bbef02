# lit configuration for the golden and compile-fail tests. CTest runs lit on one file at a time and
# passes the tool paths in the environment (see tests/CMakeLists.txt).
import os
import lit.formats

config.name = "cellforge"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".test", ".cpp"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(os.environ.get("TMPDIR", "/tmp"), "cellforge-lit")
config.environment["CELLFORGE_CACHE_DIR"] = os.path.join(config.test_exec_root, "cache")

# LLVM's `not` (used by compile-fail RUN lines) lives beside FileCheck, which is not on PATH.
config.environment["PATH"] = os.pathsep.join(
    [os.path.dirname(os.environ.get("CELLFORGE_FILECHECK", "")), os.environ.get("PATH", "")])

for name, variable in [("%cellforge", "CELLFORGE_BIN"), ("%FileCheck", "CELLFORGE_FILECHECK"),
                       ("%cxxflags", "CELLFORGE_CXXFLAGS"), ("%cxx", "CELLFORGE_CXX"),
                       ("%src", "CELLFORGE_SOURCE_DIR")]:
    if variable not in os.environ:
        lit_config.fatal("%s is not set; run the tests through ctest" % variable)
    config.substitutions.append((name, os.environ[variable]))
