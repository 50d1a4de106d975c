/** The server-sent event stream: committed blocks for everyone, or one patient's notifications. */
import { Type } from "typebox";
import type { ApiContext, ApiInstance } from "../context.js";
import { DidSchema, errorResponses } from "../schemas.js";

export function eventRoutes(app: ApiInstance, context: ApiContext): void {
  app.get(
    "/events",
    {
      schema: {
        summary: "server-sent events: committed blocks, or one patient's notifications",
        description:
          "Without `patient`: `event: block` frames `{height, hash, time, txCount}` for every committed block. With `patient=<did>` (a request signed by that patient, or the admin token): `break-glass`, `access` and `access-denied` frames for that patient.",
        tags: ["events"],
        produces: ["text/event-stream"],
        querystring: Type.Object({ patient: Type.Optional(DidSchema) }),
        response: {
          200: Type.String({ description: "a text/event-stream" }),
          ...errorResponses(401, 403),
        },
      },
    },
    async (request, reply) => {
      const patient = request.query.patient ?? null;
      if (patient !== null) context.auth.authorizePatient(request, patient);
      context.events.open(reply, patient);
      return reply;
    },
  );
}
