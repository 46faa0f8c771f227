// S3Store: a BackupStore in an S3 bucket under a key prefix (s3://bucket/prefix?…), for AWS
// and S3-compatible services, over @aws-sdk/client-s3 v3. One S3Client per store; safe for
// concurrent calls on any keys (the SDK pools connections and retries per request).
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, S3ClientConfig } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { abortError, CairnError, ErrorCodes, throwIfAborted } from '../errors.js';
import type { BackupStore, StoreBody, StoreGetOptions, StoreListPage, StoreObjectInfo, StorePutOptions } from './store.js';
import {
  objectExists,
  objectNotFound,
  sizeMismatch,
  storeClosed,
  validateBody,
  validateGetOptions,
  validateKey,
  validateListOptions,
  validatePrefix,
  validatePutOptions,
} from './store-errors.js';

/** S3's smallest part (except the last) and largest part. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** S3 allows at most this many parts per upload. */
const MAX_PARTS = 10_000;
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
const DEFAULT_MAX_ATTEMPTS = 3;
/** Parts uploaded at once: memory use of one put is up to this many part buffers. */
const PART_CONCURRENCY = 4;
/** Query parameters that are secrets: never echoed in `url`. */
const SECRET_PARAMS = ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const;
const KNOWN_PARAMS = new Set(['endpoint', 'region', 'forcePathStyle', 'partSize', 'maxAttempts', ...SECRET_PARAMS]);
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Everything an s3:// URL says, validated. */
export interface S3Location {
  bucket: string;
  /** '' or a key prefix ending in '/', prepended to every store key. */
  prefix: string;
  endpoint: string | undefined;
  region: string | undefined;
  forcePathStyle: boolean | undefined;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Bodies above this size go up as a multipart upload of parts this large. */
  partSize: number;
  maxAttempts: number;
  /** The URL without its credentials. */
  url: string;
}

/**
 * Parses s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true&partSize=…&maxAttempts=…
 * &accessKeyId=…&secretAccessKey=…&sessionToken=… (all optional; without credentials the
 * SDK's default provider chain applies: environment, shared config, instance roles).
 * Throws TypeError / RangeError; unknown parameters are rejected so typos are not ignored.
 */
export function parseS3Url(input: string): S3Location {
  if (typeof input !== 'string') throw new TypeError('url must be a string');
  let parsed: URL;
  try {
    parsed = new URL(input);
  } catch (err) {
    throw new TypeError(`not a URL: ${JSON.stringify(redact(input))}`, { cause: err });
  }
  if (parsed.protocol !== 's3:') throw new TypeError(`not an s3:// URL: ${JSON.stringify(redact(input))}`);
  const bucket = parsed.hostname;
  if (!BUCKET_NAME.test(bucket)) throw new TypeError(`invalid bucket name ${JSON.stringify(bucket)}`);
  if (parsed.username !== '' || parsed.password !== '' || parsed.port !== '' || parsed.hash !== '') {
    throw new TypeError('an s3:// URL takes credentials and endpoint as query parameters, not in its authority or fragment');
  }
  const path = decodeURIComponent(parsed.pathname).replace(/^\/+/, '').replace(/\/+$/, '');
  if (path !== '') validateKey(path, 'the URL prefix');
  const params = parsed.searchParams;
  for (const name of params.keys()) {
    if (!KNOWN_PARAMS.has(name)) throw new TypeError(`unknown s3:// URL parameter ${JSON.stringify(name)}`);
  }
  const accessKeyId = params.get('accessKeyId') ?? undefined;
  const secretAccessKey = params.get('secretAccessKey') ?? undefined;
  const sessionToken = params.get('sessionToken') ?? undefined;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) throw new TypeError('accessKeyId and secretAccessKey come together');
  if (sessionToken !== undefined && accessKeyId === undefined) throw new TypeError('sessionToken needs accessKeyId and secretAccessKey');
  const endpoint = params.get('endpoint') ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) throw new TypeError('endpoint must be an http:// or https:// URL');
  const forcePathStyle = params.get('forcePathStyle');
  if (forcePathStyle !== null && forcePathStyle !== 'true' && forcePathStyle !== 'false') throw new TypeError('forcePathStyle must be true or false');
  const partSize = integerParam(params, 'partSize', DEFAULT_PART_SIZE, MIN_PART_SIZE, MAX_PART_SIZE);
  const maxAttempts = integerParam(params, 'maxAttempts', DEFAULT_MAX_ATTEMPTS, 1, 20);
  for (const name of SECRET_PARAMS) params.delete(name);
  return {
    bucket,
    prefix: path === '' ? '' : `${path}/`,
    endpoint,
    region: params.get('region') ?? undefined,
    forcePathStyle: forcePathStyle === null ? undefined : forcePathStyle === 'true',
    credentials:
      accessKeyId === undefined || secretAccessKey === undefined
        ? undefined
        : { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
    partSize,
    maxAttempts,
    url: parsed.href,
  };
}

/**
 * Puts of up to `partSize` bytes are one PutObject; larger ones a multipart upload,
 * aborted on failure (if the abort cannot reach the server either, the parts stay until
 * a bucket lifecycle rule for incomplete uploads removes them; they are never visible).
 * Stream bodies are read into part-sized buffers, so a put holds up to
 * PART_CONCURRENCY × partSize bytes. `ifNoneMatch` asks HeadObject first, then writes with
 * `If-None-Match: *`, which S3 (since 2024) enforces atomically; a server that ignores
 * the header (s3rver, older S3-compatible services) leaves a window between the head and
 * the write in which a concurrent writer of the same key can be replaced.
 */
export class S3Store implements BackupStore {
  /** The s3:// URL without credentials. The BackupStore methods are documented on that interface. */
  readonly url: string;
  readonly bucket: string;
  /** Prepended to every key: the URL's path with a trailing '/', or '' for the bucket's root. */
  readonly prefix: string;
  /** Bytes per multipart upload part (the `partSize` URL parameter). */
  readonly partSize: number;
  readonly #client: S3Client;
  #closed = false;

  /** Does no I/O; openStore() also checks that the bucket exists. */
  constructor(url: string) {
    const location = parseS3Url(url);
    this.url = location.url;
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.partSize = location.partSize;
    const config: S3ClientConfig = {
      maxAttempts: location.maxAttempts,
      // Without timeouts a server that stops answering would hang a backup forever.
      requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
    };
    if (location.region !== undefined) config.region = location.region;
    if (location.endpoint !== undefined) config.endpoint = location.endpoint;
    if (location.forcePathStyle !== undefined) config.forcePathStyle = location.forcePathStyle;
    if (location.credentials !== undefined) config.credentials = location.credentials;
    this.#client = new S3Client(config);
  }

  /** Rejects CAIRN_NOT_FOUND when the bucket does not exist; other failures keep their codes. */
  async verifyBucket(): Promise<void> {
    this.#checkOpen();
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (isNotFound(err)) {
        throw new CairnError(ErrorCodes.NOT_FOUND, `No bucket '${this.bucket}' at ${this.url}`, { cause: err, details: { bucket: this.bucket, url: this.url } });
      }
      // The SDK's provider chain found nothing: say where credentials come from.
      if (err instanceof Error && err.name === 'CredentialsProviderError') {
        throw new CairnError(
          ErrorCodes.NO_CREDENTIALS,
          `No credentials for ${this.url}: give accessKeyId and secretAccessKey in the URL, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run with an instance role)`,
          { cause: err, details: { url: this.url } },
        );
      }
      throw withCode(err);
    }
  }

  async put(key: string, body: StoreBody, options?: StorePutOptions): Promise<void> {
    validateKey(key);
    validateBody(body);
    const { ifNoneMatch = false, signal, sha256 } = validatePutOptions(options);
    const reader = new BodyReader(key, body, signal);
    // S3 checks the body against it and keeps it for head's ChecksumMode (one PutObject only:
    // a multipart object's checksum is of its parts).
    const checksum = sha256 === undefined ? {} : { ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64') };
    try {
      this.#checkOpen();
      throwIfAborted(signal);
      if (ifNoneMatch && (await this.head(key)) !== undefined) throw objectExists(key);
      if (reader.size <= this.partSize) {
        const bytes = await reader.read(reader.size);
        await reader.expectEnd();
        await this.#send(
          (client, options) =>
            client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: bytes, ...checksum, ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}) }), options),
          key,
          signal,
        );
      } else {
        await this.#putMultipart(key, reader, ifNoneMatch, signal);
      }
    } catch (err) {
      reader.destroy();
      throw err;
    } finally {
      reader.release();
    }
  }

  async #putMultipart(key: string, reader: BodyReader, ifNoneMatch: boolean, signal: AbortSignal | undefined): Promise<void> {
    const partSize = Math.max(this.partSize, Math.ceil(reader.size / MAX_PARTS));
    const created = await this.#send(
      (client, options) => client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, ChecksumAlgorithm: 'CRC32' }), options),
      key,
      signal,
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new CairnError(ErrorCodes.CORRUPTION, 'CreateMultipartUpload returned no UploadId', { details: { key } });
    // One failed part stops the others: their requests are aborted through this controller.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const inFlight = new Set<Promise<void>>();
    try {
      const parts: CompletedPart[] = [];
      let failure: { error: unknown } | undefined;
      for (let offset = 0, number = 1; offset < reader.size && failure === undefined; offset += partSize, number++) {
        const bytes = await reader.read(Math.min(partSize, reader.size - offset));
        const partNumber = number;
        const upload = this.#send(
          (client, options) =>
            client.send(new UploadPartCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId, PartNumber: partNumber, Body: bytes }), options),
          key,
          stop.signal,
        ).then(
          (out) => {
            parts[partNumber - 1] = { PartNumber: partNumber, ETag: out.ETag, ...(out.ChecksumCRC32 === undefined ? {} : { ChecksumCRC32: out.ChecksumCRC32 }) };
          },
          (error: unknown) => {
            failure ??= { error };
            stop.abort(error);
          },
        );
        inFlight.add(upload);
        void upload.finally(() => inFlight.delete(upload));
        if (inFlight.size >= PART_CONCURRENCY) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      throwIfAborted(signal);
      if (failure !== undefined) throw failure.error;
      await reader.expectEnd();
      await this.#send(
        (client, options) =>
          client.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: this.prefix + key,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts },
              ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
            }),
            options,
          ),
        key,
        signal,
      );
    } catch (err) {
      // Parts still uploading would outlive the abort and keep their storage; stop them first.
      stop.abort(err);
      await Promise.all(inFlight);
      // Best effort, without the caller's signal (it may be the reason we are here).
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId })).catch(() => undefined);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, options?: StoreGetOptions): Promise<Readable> {
    validateKey(key);
    const { signal } = validateGetOptions(options);
    this.#checkOpen();
    throwIfAborted(signal);
    let body: unknown;
    try {
      const out = await this.#send((client, options) => client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), options), key, signal);
      body = out.Body;
    } catch (err) {
      if (isNotFound(err)) throw objectNotFound(key, err);
      throw err;
    }
    if (!(body instanceof Readable)) throw new TypeError('GetObject returned a body that is not a Node.js Readable');
    if (signal !== undefined) {
      const onAbort = (): void => {
        body.destroy(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      body.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return body;
  }

  async head(key: string): Promise<StoreObjectInfo | undefined> {
    validateKey(key);
    this.#checkOpen();
    try {
      // ChecksumMode: the SHA-256 S3 verified at upload comes back for free, so a backup's
      // existence check can tell a damaged object from a good one without downloading it.
      const out = await this.#send((client, options) => client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ChecksumMode: 'ENABLED' }), options), key);
      const info: StoreObjectInfo = { key, size: out.ContentLength ?? 0, mtimeMs: out.LastModified?.getTime() ?? 0 };
      const checksum = out.ChecksumSHA256;
      // A composite checksum (of a multipart upload's parts) ends in -<parts>: not the object's.
      if (checksum !== undefined && !checksum.includes('-') && (out.ChecksumType === undefined || out.ChecksumType === 'FULL_OBJECT')) {
        const hex = Buffer.from(checksum, 'base64').toString('hex');
        if (hex.length === 64) info.sha256 = hex;
      }
      return info;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<StoreListPage> {
    validatePrefix(prefix);
    const { cursor, limit } = validateListOptions(options);
    this.#checkOpen();
    const out = await this.#send((client, options) =>
      client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, MaxKeys: limit, ...(cursor === undefined ? {} : { ContinuationToken: cursor }) }),
        options,
      ),
    );
    const objects = (out.Contents ?? []).map((object) => ({
      key: (object.Key ?? '').slice(this.prefix.length),
      size: object.Size ?? 0,
      mtimeMs: object.LastModified?.getTime() ?? 0,
    }));
    return { objects, next: out.IsTruncated === true ? out.NextContinuationToken : undefined };
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    this.#checkOpen();
    await this.#send((client, options) => client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), options), key);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }

  #checkOpen(): void {
    if (this.#closed) throw storeClosed(this.url);
  }

  /** Sends with the SDK's retries; an abort becomes CAIRN_ABORTED, an S3 error gets its name as `code`. */
  async #send<T>(send: (client: S3Client, options: { abortSignal?: AbortSignal }) => Promise<T>, key?: string, signal?: AbortSignal): Promise<T> {
    try {
      return await send(this.#client, signal === undefined ? {} : { abortSignal: signal });
    } catch (err) {
      if (signal?.aborted === true) throw abortError(signal);
      if (err instanceof S3ServiceException && err.name === 'PreconditionFailed' && key !== undefined) throw objectExists(key, err);
      throw withCode(err);
    }
  }
}

/**
 * Reads a put body in exact-size pieces: slices of bytes, or buffers filled from the stream
 * (which an abort destroys mid-read). Insists on exactly `size` bytes.
 */
class BodyReader {
  readonly size: number;
  readonly #key: string;
  readonly #bytes: Uint8Array | undefined;
  readonly #stream: Readable | undefined;
  readonly #iterator: AsyncIterator<unknown> | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: () => void;
  #leftover: Buffer | undefined;
  #offset = 0;

  constructor(key: string, body: StoreBody, signal: AbortSignal | undefined) {
    this.#key = key;
    this.#signal = signal;
    if (body instanceof Uint8Array) {
      this.#bytes = body;
      this.size = body.byteLength;
    } else {
      this.#stream = body.stream;
      this.size = body.size;
      this.#iterator = body.stream[Symbol.asyncIterator]();
    }
    this.#onAbort = () => this.#stream?.destroy(abortError(signal));
    if (this.#stream !== undefined) signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  async read(length: number): Promise<Uint8Array> {
    if (this.#bytes !== undefined) {
      const piece = this.#bytes.subarray(this.#offset, this.#offset + length);
      this.#offset += length;
      return piece;
    }
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.#leftover ?? (await this.#next());
      this.#leftover = undefined;
      if (chunk === undefined) throw sizeMismatch(this.#key, this.size, this.#offset + filled);
      const take = Math.min(chunk.byteLength, length - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take < chunk.byteLength) this.#leftover = chunk.subarray(take);
    }
    this.#offset += length;
    return out;
  }

  /** Rejects when the stream has bytes beyond `size`. */
  async expectEnd(): Promise<void> {
    if (this.#iterator === undefined) return;
    const extra = this.#leftover ?? (await this.#next());
    if (extra !== undefined) throw sizeMismatch(this.#key, this.size, this.size + extra.byteLength);
  }

  /** After a failure: an unread rest must not hold the stream's source open. */
  destroy(): void {
    this.#stream?.destroy();
  }

  release(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  async #next(): Promise<Buffer | undefined> {
    for (;;) {
      const step = await (this.#iterator as AsyncIterator<unknown>).next();
      if (step.done === true) return undefined;
      const chunk = typeof step.value === 'string' ? Buffer.from(step.value) : Buffer.from((step.value as Uint8Array).buffer, (step.value as Uint8Array).byteOffset, (step.value as Uint8Array).byteLength);
      if (chunk.byteLength > 0) return chunk;
    }
  }
}

/** 404s: NoSuchKey (GetObject), NotFound (HeadObject / HeadBucket carry no body), NoSuchBucket. */
function isNotFound(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.name === 'NoSuchBucket' || err.$metadata.httpStatusCode === 404;
}

/** What a bodiless error response (HEAD) is called, by HTTP status, as S3's own tools name them. */
const STATUS_NAMES: Record<number, string> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  412: 'PreconditionFailed',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/**
 * S3 errors carry their name ('AccessDenied', 'NoSuchBucket') as `code`; one without a
 * body (a HEAD) that the SDK could only call 'Unknown' is named by its status instead.
 * Network errors already have a code (ECONNREFUSED) and pass through.
 */
function withCode(err: unknown): unknown {
  if (err instanceof S3ServiceException && (err as { code?: unknown }).code === undefined) {
    const status = err.$metadata.httpStatusCode;
    const code = err.name !== 'Unknown' || status === undefined ? err.name : (STATUS_NAMES[status] ?? `HTTP${status}`);
    Object.assign(err, { code });
  }
  return err;
}

function integerParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw new TypeError(`${name} must be a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}`);
  return value;
}

/** The input with secret query values masked, for error messages. */
function redact(input: string): string {
  return input.replace(/((?:accessKeyId|secretAccessKey|sessionToken)=)[^&#]*/g, '$1***');
}
