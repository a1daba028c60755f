/**
 * The one place where storage statuses become response codes (RocketMQ's
 * SendMessageProcessor.handlePutMessageResult and the PullMessageProcessor switch).
 */
import { ResponseCode } from '../protocol/response-code.js';
import { AppendStatus, GetMessageStatus } from '../storage/types.js';

const APPEND_CODES: Record<AppendStatus, number> = {
  [AppendStatus.PUT_OK]: ResponseCode.SUCCESS,
  [AppendStatus.TOPIC_INVALID]: ResponseCode.SYSTEM_ERROR,
  [AppendStatus.QUEUE_INVALID]: ResponseCode.SYSTEM_ERROR,
  [AppendStatus.BODY_TOO_LARGE]: ResponseCode.MESSAGE_ILLEGAL,
  [AppendStatus.PROPERTIES_TOO_LARGE]: ResponseCode.MESSAGE_ILLEGAL,
  // RocketMQ answers a full disk with SERVICE_NOT_AVAILABLE ("service not available now").
  [AppendStatus.DISK_FULL]: ResponseCode.SERVICE_NOT_AVAILABLE,
  [AppendStatus.SERVICE_NOT_AVAILABLE]: ResponseCode.SERVICE_NOT_AVAILABLE,
  [AppendStatus.IO_ERROR]: ResponseCode.SYSTEM_ERROR,
  // RocketMQ's "[PC_SYNCHRONIZED]broker busy" flow control; producers retry it.
  [AppendStatus.STORE_BUSY]: ResponseCode.SYSTEM_BUSY,
};

export function appendStatusToCode(status: AppendStatus): number {
  return APPEND_CODES[status];
}

/**
 * Pull answer code. An empty or missing queue is "not found" (and may be held) only when the
 * client asked for offset 0; any other offset there has moved.
 */
export function readStatusToCode(status: GetMessageStatus, requestOffset: number): number {
  switch (status) {
    case GetMessageStatus.FOUND:
      return ResponseCode.SUCCESS;
    case GetMessageStatus.NO_MATCHED_MESSAGE:
      return ResponseCode.PULL_RETRY_IMMEDIATELY;
    case GetMessageStatus.OFFSET_OVERFLOW_ONE:
      return ResponseCode.PULL_NOT_FOUND;
    case GetMessageStatus.NO_MESSAGE_IN_QUEUE:
    case GetMessageStatus.NO_MATCHED_LOGIC_QUEUE:
      return requestOffset === 0 ? ResponseCode.PULL_NOT_FOUND : ResponseCode.PULL_OFFSET_MOVED;
    case GetMessageStatus.OFFSET_TOO_SMALL:
    case GetMessageStatus.OFFSET_OVERFLOW_BADLY:
      return ResponseCode.PULL_OFFSET_MOVED;
  }
}
