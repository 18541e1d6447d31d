"""Access and copy (PIPL art. 45): everything held about a pupil, for the pupil's guardian or
for a pupil of 14 and over, as one JSON document, and the pupil's evidence files as a ZIP."""
