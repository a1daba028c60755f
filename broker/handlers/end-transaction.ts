/**
 * END_TRANSACTION (37), oneway from a transactional producer after its local transaction.
 * Header: producerGroup, tranStateTableOffset (the half message's queue offset), commitLogOffset
 * (its physical offset), commitOrRollback (8 commit, 12 rollback, 0 unknown), fromTransactionCheck,
 * msgId, transactionId. A commit copies the half message to its real topic and queue; a rollback
 * writes nothing; both are recorded as resolved. "Unknown" (0) leaves it to the state check
 * (see transaction/).
 */
import { decodeRecord, MessageSysFlag } from '../../protocol/message-codec.js';
import { MessageConst } from '../../protocol/properties.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { AppendStatus } from '../../storage/types.js';
import type { RequestHandler } from '../broker-context.js';
import { appendStatusToCode } from '../status-map.js';
import { committedMessageOf, TRANS_HALF_TOPIC } from '../transaction/half-message.js';
import { propertyViewOf } from './put-message.js';
import { requireInt, requireLong, requireString } from './request-fields.js';

export const endTransaction: RequestHandler = async ({ broker }, request) => {
  const producerGroup = requireString(request, 'producerGroup');
  const tranStateTableOffset = requireLong(request, 'tranStateTableOffset');
  const commitLogOffset = requireLong(request, 'commitLogOffset');
  const decision = requireInt(request, 'commitOrRollback');
  if (decision !== MessageSysFlag.TRANSACTION_COMMIT && decision !== MessageSysFlag.TRANSACTION_ROLLBACK) return null;

  const found = commitLogOffset >= 0 ? await broker.store.lookup(commitLogOffset) : undefined;
  if (!found || found.topic !== TRANS_HALF_TOPIC) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `Find prepared transaction message failed, offset ${commitLogOffset}`);
  }
  const half = decodeRecord(found.bytes);
  if (half.propertyMap[MessageConst.PGROUP] !== producerGroup) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, 'The producer group wrong');
  }
  if (half.queueOffset !== tranStateTableOffset) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, 'The transaction state table offset wrong');
  }
  // A producer may answer twice (its own END plus a check): only the first decision counts.
  if (broker.transactions.isResolved(half.queueOffset)) return createResponse(request, ResponseCode.SUCCESS);
  if (decision === MessageSysFlag.TRANSACTION_ROLLBACK) {
    await broker.transactions.resolve(half.queueOffset);
    return createResponse(request, ResponseCode.SUCCESS);
  }

  const committed = committedMessageOf(half);
  if ('invalid' in committed) return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, committed.invalid);
  let message = committed.message;
  const properties = propertyViewOf(committed.properties);
  for (const hook of broker.putMessageHooks) message = hook(message, properties);
  const result = await broker.store.append(message);
  if (result.status !== AppendStatus.PUT_OK) {
    return createResponse(request, appendStatusToCode(result.status), undefined, result.reason);
  }
  await broker.transactions.resolve(half.queueOffset);
  return createResponse(request, ResponseCode.SUCCESS);
};
