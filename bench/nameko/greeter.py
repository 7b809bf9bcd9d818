"""The Func of the Nameko peer: an RPC service that returns the greeting."""

from nameko.rpc import rpc


class Greeter:
    name = "funcmesh_bench_greeter"

    @rpc
    def greet(self, name):
        return {"greeting": "Hello, %s!" % name}
