// tests/webchat/hosts.check.ts — compiled, never run (tsc --strict, tsconfig.json beside
// it): what each host hands the factory and expects back fits the library, and the
// library fits each host's ServiceDesk.
import type * as WebChat from 'ibm-web-chat';
import type * as Carbon from '@carbon/ai-chat';
import { createServiceDeskFactory, createCarbonServiceDeskFactory, DeskbridgeServiceDesk } from '../../www/webchat/deskbridge-webchat.js';

const options = { baseUrl: 'https://support.example' };

// IBM Web Chat: watsonAssistantChatOptions.serviceDeskFactory returns the desk.
const webChatFactory: (parameters: WebChat.ServiceDeskFactoryParameters) => WebChat.ServiceDesk =
	createServiceDeskFactory(options);

// Carbon AI Chat: PublicConfig.serviceDeskFactory returns a Promise of it.
const carbonFactory: NonNullable<Carbon.PublicConfig['serviceDeskFactory']> = createCarbonServiceDeskFactory(options);

// The class itself, as each host's ServiceDesk.
const asWebChat = (d: DeskbridgeServiceDesk): WebChat.ServiceDesk => d;
const asCarbon = (d: DeskbridgeServiceDesk): Carbon.ServiceDesk => d;

// The library's ErrorType is the hosts' enum, value for value.
import { ErrorType } from '../../www/webchat/deskbridge-webchat.js';
const sameCodes: [WebChat.ErrorType.CONNECTING, Carbon.ErrorType.DISCONNECTED, Carbon.ErrorType.USER_MESSAGE] =
	[ErrorType.CONNECTING, ErrorType.DISCONNECTED, ErrorType.USER_MESSAGE];

export { webChatFactory, carbonFactory, asWebChat, asCarbon, sameCodes };

// Every setErrorStatus argument the library makes, as each host declares the parameter.
import type { ErrorInfo } from '../../www/webchat/deskbridge-webchat.js';
export const errorInfoForWebChat = (i: ErrorInfo): Parameters<WebChat.ServiceDeskCallback['setErrorStatus']>[0] => i;
export const errorInfoForCarbon = (i: ErrorInfo): Parameters<Carbon.ServiceDeskCallback['setErrorStatus']>[0] => i;

