"""The local stack: moto's server as the AWS endpoint, the deploy scripts pointed at it, and
the server, event pump and batch worker as local processes (`make up`, `make demo`)."""
