"""What the OML services share on the wire: transcripts, the `oml` field of a host's answer,
signed service-to-service requests, and a launcher for service processes."""
