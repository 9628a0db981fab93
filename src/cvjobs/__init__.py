"""cvjobs: a job catalogue that speaks the Commvault REST job API."""

__version__ = "0.1.0"
