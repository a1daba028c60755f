/**
 * RocketMQ's topic rule (TopicValidator): `^[%|a-zA-Z0-9_-]+$`, at most 127 characters. Topic names
 * become directory names, so this runs before any filesystem call; the character set already
 * excludes `/`, `\`, NUL and dots, and `.`/`..` are refused explicitly for clarity.
 */

export const TOPIC_NAME_MAX_LENGTH = 127;
const TOPIC_NAME_PATTERN = /^[%|a-zA-Z0-9_-]+$/;

/** Returns undefined when `name` is a valid topic name, else the reason it is not. */
export function validateTopicName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'topic name is empty';
  if (name.length > TOPIC_NAME_MAX_LENGTH) {
    return `topic name is ${name.length} characters, longer than ${TOPIC_NAME_MAX_LENGTH}`;
  }
  if (name === '.' || name === '..') return `topic name "${name}" is not allowed`;
  if (!TOPIC_NAME_PATTERN.test(name)) return `topic name "${name}" contains characters outside [%|a-zA-Z0-9_-]`;
  return undefined;
}
