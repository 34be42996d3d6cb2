"""A harness that runs this project on a real Asterisk 22 with SIP softphones (deploy/lab)."""
