/** The service module of the rpc-lite workers benchmark: one method, echo. */
export default {
  echo: (payload: unknown): unknown => payload,
};
