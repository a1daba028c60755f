/**
 * Response codes of the RocketMQ 4.x remoting protocol (4.9.8 `RemotingSysResponseCode` 0–4 plus
 * `ResponseCode`). `RESPONSE_CODES` is the one table with a name, a retriable flag and a default
 * message per code; `errorFromResponse` in `errors.ts` is built on it.
 */
export const ResponseCode = {
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  TRANSACTION_FAILED: 4,
  FLUSH_DISK_TIMEOUT: 10,
  SLAVE_NOT_AVAILABLE: 11,
  FLUSH_SLAVE_TIMEOUT: 12,
  MESSAGE_ILLEGAL: 13,
  SERVICE_NOT_AVAILABLE: 14,
  VERSION_NOT_SUPPORTED: 15,
  NO_PERMISSION: 16,
  TOPIC_NOT_EXIST: 17,
  TOPIC_EXIST_ALREADY: 18,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
  SUBSCRIPTION_PARSE_FAILED: 23,
  SUBSCRIPTION_NOT_EXIST: 24,
  SUBSCRIPTION_NOT_LATEST: 25,
  SUBSCRIPTION_GROUP_NOT_EXIST: 26,
  FILTER_DATA_NOT_EXIST: 27,
  FILTER_DATA_NOT_LATEST: 28,
  TRANSACTION_SHOULD_COMMIT: 200,
  TRANSACTION_SHOULD_ROLLBACK: 201,
  TRANSACTION_STATE_UNKNOW: 202,
  TRANSACTION_STATE_GROUP_WRONG: 203,
  NO_BUYER_ID: 204,
  NOT_IN_CURRENT_UNIT: 205,
  CONSUMER_NOT_ONLINE: 206,
  CONSUME_MSG_TIMEOUT: 207,
  NO_MESSAGE: 208,
  UPDATE_AND_CREATE_ACL_CONFIG_FAILED: 209,
  DELETE_ACL_CONFIG_FAILED: 210,
  UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED: 211,
  FLOW_CONTROL: 215,
} as const;
export type ResponseCodeName = keyof typeof ResponseCode;
export type ResponseCode = (typeof ResponseCode)[ResponseCodeName];

export interface ResponseCodeInfo {
  code: number;
  name: ResponseCodeName;
  /** True when the same request may succeed if sent again later (to this or another broker). */
  retriable: boolean;
  message: string;
}

function info(name: ResponseCodeName, retriable: boolean, message: string): ResponseCodeInfo {
  return { code: ResponseCode[name], name, retriable, message };
}

export const RESPONSE_CODES: readonly ResponseCodeInfo[] = [
  info('SUCCESS', false, 'Success'),
  info('SYSTEM_ERROR', true, 'The broker hit an internal error'),
  info('SYSTEM_BUSY', true, 'The broker is busy; try again later'),
  info('REQUEST_CODE_NOT_SUPPORTED', false, 'The broker does not support this request code'),
  info('TRANSACTION_FAILED', false, 'The transaction failed'),
  // The three below mean "stored but not yet durable/replicated": resending would duplicate.
  info('FLUSH_DISK_TIMEOUT', false, 'The message was stored but the disk flush timed out'),
  info('SLAVE_NOT_AVAILABLE', false, 'The message was stored but no slave is available'),
  info('FLUSH_SLAVE_TIMEOUT', false, 'The message was stored but replication to the slave timed out'),
  info('MESSAGE_ILLEGAL', false, 'The message is illegal (size, topic or properties)'),
  info('SERVICE_NOT_AVAILABLE', true, 'The broker service is not available'),
  info('VERSION_NOT_SUPPORTED', false, 'The client version is not supported'),
  info('NO_PERMISSION', false, 'No permission for this operation'),
  info('TOPIC_NOT_EXIST', false, 'The topic does not exist'),
  info('TOPIC_EXIST_ALREADY', false, 'The topic exists already'),
  info('PULL_NOT_FOUND', true, 'No new message in the queue'),
  info('PULL_RETRY_IMMEDIATELY', true, 'No matching message; pull again'),
  info('PULL_OFFSET_MOVED', false, 'The pull offset is out of range'),
  info('QUERY_NOT_FOUND', false, 'Nothing found for the query'),
  info('SUBSCRIPTION_PARSE_FAILED', false, 'The subscription expression could not be parsed'),
  info('SUBSCRIPTION_NOT_EXIST', false, 'The subscription does not exist'),
  info('SUBSCRIPTION_NOT_LATEST', true, 'The subscription is not the latest'),
  info('SUBSCRIPTION_GROUP_NOT_EXIST', false, 'The subscription group does not exist'),
  info('FILTER_DATA_NOT_EXIST', false, 'The filter data does not exist'),
  info('FILTER_DATA_NOT_LATEST', true, 'The filter data is not the latest'),
  info('TRANSACTION_SHOULD_COMMIT', false, 'The transaction should commit'),
  info('TRANSACTION_SHOULD_ROLLBACK', false, 'The transaction should roll back'),
  info('TRANSACTION_STATE_UNKNOW', false, 'The transaction state is unknown'),
  info('TRANSACTION_STATE_GROUP_WRONG', false, 'The transaction state group is wrong'),
  info('NO_BUYER_ID', false, 'No buyer id'),
  info('NOT_IN_CURRENT_UNIT', false, 'Not in the current unit'),
  info('CONSUMER_NOT_ONLINE', true, 'The consumer is not online'),
  info('CONSUME_MSG_TIMEOUT', true, 'Consuming the message timed out'),
  info('NO_MESSAGE', false, 'No such message'),
  info('UPDATE_AND_CREATE_ACL_CONFIG_FAILED', false, 'Updating the ACL config failed'),
  info('DELETE_ACL_CONFIG_FAILED', false, 'Deleting the ACL config failed'),
  info('UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED', false, 'Updating the global white address list failed'),
  info('FLOW_CONTROL', true, 'The broker is applying flow control; try again later'),
];

const INFO_BY_CODE: ReadonlyMap<number, ResponseCodeInfo> = new Map(RESPONSE_CODES.map((i) => [i.code, i]));

/** The table row for a code, or undefined for a code FerryMQ does not know. */
export function responseCodeInfo(code: number): ResponseCodeInfo | undefined {
  return INFO_BY_CODE.get(code);
}

/** `TOPIC_NOT_EXIST` for 17; `UNKNOWN_RESPONSE_CODE_<n>` for a code outside the table. */
export function responseCodeName(code: number): string {
  return INFO_BY_CODE.get(code)?.name ?? `UNKNOWN_RESPONSE_CODE_${code}`;
}
