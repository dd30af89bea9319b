"""The concurrency tests, run against a kernel built with AddressSanitizer (VECTREE_SANITIZE=1):
any read of memory the kernel does not own is a report, and a report fails the test."""

import os
import subprocess
import sys

from tests.native.build import asan_runtime, build_variant

TESTS = [
    "tests/collection/test_search_under_concurrent_writes.py",
    "tests/collection/test_threads_share_a_collection.py",
    "tests/collection/test_arena_keeps_memory_near_the_cache.py",
    "tests/collection/test_compiled_scan_matches_matrix_scan.py::test_deleted_rows_are_never_returned_by_any_scan",
    "tests/collection/test_single_query_path.py::test_lean_path_under_threads_and_evictions",
    "tests/collection/test_one_call_single_query.py::test_one_call_under_threads_evictions_and_moves",
    "tests/collection/test_one_call_single_query.py::test_one_call_answers_as_the_general_path",
    "tests/collection/test_quantized_scan_is_exact.py::test_few_probes_return_the_compiled_scans_answer",
    "tests/collection/test_quantized_scan_is_exact.py::test_dims_off_the_kernels_stride_return_the_compiled_scans_answer",
    "tests/collection/test_rerank_knob.py::test_a_cap_bounds_the_rows_read_in_full_on_every_path",
    "tests/collection/test_rabitq_codes.py::test_reranking_every_candidate_is_exact",
    "tests/collection/test_rabitq_codes.py::test_threads_with_evictions_give_single_thread_answers",
    "tests/collection/test_cold_codes_under_threads.py",
    "tests/index/test_refined_centers.py::test_few_query_ranking_equals_the_full_product",
    "tests/index/test_refined_centers.py::test_ranking_with_every_dimension_projected_equals_the_full_product",
    "tests/collection/test_cold_quantized_search_reads_codes_then_rows.py::test_few_probes_return_the_whole_bucket_reads_answer",
]


def test_concurrent_searches_make_no_sanitizer_report(tmp_path):
    build = build_variant(tmp_path / "asan", with_tests=True, VECTREE_SANITIZE="1")
    env = {
        **os.environ,
        "PYTHONPATH": str(build),
        "LD_PRELOAD": asan_runtime(),
        # Python frees its arenas at exit without tracking every block: leaks are not the question here
        "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:exitcode=99",
        "PYTHONMALLOC": "malloc",  # Python's own objects through malloc too, so ASan sees them
        "ARROW_DEFAULT_MEMORY_POOL": "system",  # and Arrow's buffers
        "VECTREE_STRESS_SECONDS": os.environ.get("VECTREE_ASAN_STRESS_SECONDS", "8"),
    }
    check = subprocess.run(
        [sys.executable, "-c", "import vectree._native._scan as s; print(s.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=build,
    )
    assert check.returncode == 0 and check.stdout.strip().startswith(str(build)), check.stderr
    probe = "import vectree._native._scan; print(any('libasan' in line for line in open('/proc/self/maps')))"
    assert (
        subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, cwd=build
        ).stdout.strip()
        == "True"
    ), "the subprocess runs with the sanitizer loaded"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=build,
    )
    report = done.stdout[-4000:] + done.stderr[-8000:]
    assert "AddressSanitizer" not in done.stderr, report
    assert done.returncode == 0, report
    assert " passed" in done.stdout, report
