"""The user side (DECODE user-facing API), told of every job status change."""
