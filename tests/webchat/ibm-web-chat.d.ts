// tests/webchat/ibm-web-chat.d.ts — IBM watsonx Assistant Web Chat's service desk contract,
// as tsc sees it under the name 'ibm-web-chat' (tests/webchat/tsconfig.json maps it here).
//
// IBM publishes these types on no npm package: they are the file serviceDeskTypes.ts that
// Web Chat serves beside itself and that IBM's starter kit carries
// (github.com/watson-developer-cloud/assistant-web-chat-service-desk-starter,
// src/common/types/serviceDeskTypes.ts, 2023). This is a declaration of the same shapes,
// written here, not a copy; only what deskbridge-webchat.js touches. Where the starter's
// file is older than Web Chat's documentation (ErrorType.USER_MESSAGE, reconnect,
// userReadMessages, documented with Web Chat 7 and present in Carbon AI Chat's types,
// which descend from these), the member is declared as documented. Where the two could
// differ, the stricter reading is taken: callbacks may return void or a Promise (the
// starter says void, Carbon says Promise), sendMessageToUser's agentID is required, and
// getName is required.

export declare enum ErrorType {
	CONNECTING = 1,
	DISCONNECTED = 2,
	USER_MESSAGE = 3,
}

interface BaseErrorInfo {
	logInfo?: unknown;
}

export interface ConnectingErrorInfo extends BaseErrorInfo {
	type: ErrorType.CONNECTING;
	messageToUser?: string;
}

export interface DisconnectedErrorInfo extends BaseErrorInfo {
	type: ErrorType.DISCONNECTED;
	isDisconnected: boolean;
}

export interface UserMessageErrorInfo extends BaseErrorInfo {
	type: ErrorType.USER_MESSAGE;
	messageID: string;
}

export type ServiceDeskErrorInfo = ConnectingErrorInfo | DisconnectedErrorInfo | UserMessageErrorInfo;

/** Minutes for the wait; only one of the fields is shown, the wait time first. */
export interface AgentAvailability {
	position_in_queue?: number;
	estimated_wait_time?: number;
	message?: string;
}

export interface AgentProfile {
	id: string;
	nickname: string;
	profile_picture_url?: string;
}

export interface MessageResponse {
	output: { generic: { response_type: string; text?: string; [prop: string]: unknown }[]; [prop: string]: unknown };
	id?: string;
	[prop: string]: unknown;
}

export interface MessageRequest {
	input: { text: string; [prop: string]: unknown };
	[prop: string]: unknown;
}

type Settles = void | Promise<void>;

/** File uploads (Web Chat 7's service desk documentation: ServiceDeskCallback
 * updateCapabilities and setFileUploadStatus, ServiceDesk filesSelectedForUpload, the
 * filesToUpload of sendMessageToAgent's additionalData; Carbon AI Chat declares the same). */
export interface ServiceDeskCapabilities {
	allowFileUploads: boolean;
	allowMultipleFileUploads: boolean;
	allowedFileUploadTypes: string;
}

export interface FileUpload {
	id: string;
	file: File;
	status: 'complete' | 'uploading' | 'success';
	isError?: boolean;
	errorMessage?: string;
}

export interface AdditionalDataToAgent {
	filesToUpload?: FileUpload[];
}

export interface ServiceDeskCallback {
	updateAgentAvailability(availability: AgentAvailability): Settles;
	agentJoined(profile: AgentProfile): Settles;
	agentReadMessages(): Settles;
	agentTyping(isTyping: boolean): Settles;
	sendMessageToUser(message: MessageResponse | string, agentID: string): Settles;
	beginTransferToAnotherAgent(profile?: AgentProfile): Settles;
	agentLeftChat(): Settles;
	agentEndedChat(): Promise<void>;
	setErrorStatus(errorInfo: ServiceDeskErrorInfo): Settles;
	updateCapabilities(capabilities: Partial<ServiceDeskCapabilities>): Settles;
	setFileUploadStatus(fileID: string, isError?: boolean, errorMessage?: string): Settles;
}

export interface ServiceDeskFactoryParameters {
	callback: ServiceDeskCallback;
	instance: unknown;
}

export interface ServiceDeskStateFromWAC {
	sessionID: string;
	userID: string;
	locale: string;
}

export interface ServiceDesk {
	getName(): string;
	startChat(connectMessage: MessageResponse, startChatOptions: unknown): Promise<void>;
	endChat(info: unknown): Promise<void>;
	sendMessageToAgent(message: MessageRequest, messageID: string, additionalData: AdditionalDataToAgent): Promise<void>;
	filesSelectedForUpload?(uploads: FileUpload[]): void;
	updateState?(state: ServiceDeskStateFromWAC): void;
	userTyping?(isTyping: boolean): Promise<void>;
	userReadMessages?(): Promise<void>;
	areAnyAgentsOnline?(connectMessage: MessageResponse): Promise<boolean | null>;
	reconnect?(): Promise<boolean>;
}
