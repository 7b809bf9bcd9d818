"""The HTTP front of the Nameko peer: one GET route that asks the greeter
over AMQP RPC and answers with its JSON."""

import json

from nameko.rpc import RpcProxy
from nameko.web.handlers import http


class Gateway:
    name = "funcmesh_bench_gateway"

    greeter = RpcProxy("funcmesh_bench_greeter")

    @http("GET", "/hello/greet")
    def greet(self, request):
        reply = self.greeter.greet(request.args.get("name", "world"))
        return 200, {"Content-Type": "application/json"}, json.dumps(reply)
