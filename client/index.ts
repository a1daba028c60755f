/** FerryMQ client SDK: producer, push and pull consumers over the RocketMQ 4.x remoting protocol. */
export { Producer, type ProducerOptions, type SendOptions, type SendResult } from './producer.js';
export { PushConsumer, type PushConsumerOptions } from './push-consumer.js';
export { PullConsumer, type PullConsumerOptions, type SeekTarget } from './pull-consumer.js';
export type { ConsumeFromWhere } from './start-offset.js';
export { ConsumeStatus, type ConsumeContext, type ConsumeStats, type MessageListener, type MessageModel } from './consume-types.js';
export type { ClientOptions } from './client-instance.js';
export type { HeaderFormat } from './broker-api.js';
export type { Message, ReceivedMessage } from './message.js';
export { compareQueues, queueKey, type MessageQueue } from './message-queue.js';
export { roundRobinSelector, shardingKeySelector, type QueueSelector } from './queue-selector.js';
export { averageStrategy, averageByCircleStrategy, consistentHashStrategy, configStrategy, type AllocateStrategy } from './allocate/index.js';
export type { AllocationReport } from './rebalance-service.js';
export { BrokerOffsetStore, LocalFileOffsetStore, type OffsetStore } from './offset-store.js';
export { retry, backoffDelay, type BackoffOptions, type RetryOptions } from './retry.js';
export { systemClock, type Clock } from '../storage/clock.js';
export { FerryMQError, BrokerResponseError, RequestTimeoutError, ConnectionClosedError, InvalidArgumentError } from '../protocol/errors.js';
