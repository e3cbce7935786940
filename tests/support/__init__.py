"""Helpers shared by the test suites (imported, never collected: no test_ names here)."""
