"""SciPass (科学实践护照): the backend of the students' science-practice passport."""

__version__ = "0.1.0"
