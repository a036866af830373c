// USP GetSupportedProtocol: the USP versions this agent speaks.
import { USP_VERSIONS } from '../codec.js';
import type { RequestHandler } from '../context.js';

export const handleGetSupportedProtocol: RequestHandler<'get_supported_protocol'> = () => ({
  response: { get_supported_protocol_resp: { agent_supported_protocol_versions: USP_VERSIONS.join(',') } },
});
