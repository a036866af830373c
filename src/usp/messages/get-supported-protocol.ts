// USP GetSupportedProtocol: the USP versions this agent speaks.
import { USP_VERSIONS } from '../codec.js';
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';

export const handleGetSupportedProtocol: RequestHandler<usp.GetSupportedProtocol> = () => ({
  response: { get_supported_protocol_resp: { agent_supported_protocol_versions: USP_VERSIONS.join(',') } },
});
