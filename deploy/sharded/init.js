// Brings up the sharded cluster of docker-compose.sharded.yml and shards c360's collections.
//
//   mongosh --nodb --quiet /scripts/init.js        (the compose file's one-shot `init` service)
//
// 1. initiates the config server replica set and the two shard replica sets;
// 2. waits for mongos, adds the shards, creates the database with its primary shard;
// 3. shards each collection of shard-keys.json by its key. That file is rendered from
//    c360/store/sharding.py, which says why each key (and why the rest stay unsharded).
//
// Every step may run again (the stack restarted): what is done already is left as it is, and a
// collection sharded by another key than the table's stops the script with the way out.

const fs = require("fs");

const DATABASE = process.env.C360_DATABASE || "c360";
const KEYS_FILE = process.env.C360_SHARD_KEYS || "/scripts/shard-keys.json";
const CONFIG = { name: "cfg", host: "cfg:27019" };
const SHARDS = [
  { name: "shard1", host: "shard1:27018" },
  { name: "shard2", host: "shard2:27018" },
];
const ROUTER = "mongos:27017";
const WAIT_SECONDS = 180;

// Error codes a repeated step meets.
const ALREADY_INITIALIZED = 23;
const NOT_YET_INITIALIZED = 94;

function log(message) {
  print(`[c360 init] ${message}`);
}

// The answer of a command, or of one that failed with a tolerated code; anything else throws.
// (mongosh throws a server error; an answer with ok: 0 is turned into one here.)
function run(db, command, tolerated = []) {
  let answer;
  try {
    answer = db.runCommand(command);
  } catch (error) {
    if (tolerated.includes(error.code)) {
      return { ok: 0, code: error.code };
    }
    throw error;
  }
  if (answer.ok !== 1 && !tolerated.includes(answer.code)) {
    throw new Error(`${JSON.stringify(command)} failed: ${JSON.stringify(answer)}`);
  }
  return answer;
}

function waitFor(what, check) {
  const deadline = Date.now() + WAIT_SECONDS * 1000;
  let last = null;
  for (;;) {
    try {
      const value = check();
      if (value) {
        return value;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}: ${last}`);
    }
    sleep(1000);
  }
}

function admin(host) {
  return waitFor(host, () => new Mongo(`mongodb://${host}/?directConnection=true`).getDB("admin"));
}

// A replica set of one member (add members in production), primary before this returns.
function initiate(set, extra) {
  const db = admin(set.host);
  const status = run(db, { replSetGetStatus: 1 }, [NOT_YET_INITIALIZED]);
  if (status.ok !== 1) {
    const config = Object.assign({ _id: set.name, members: [{ _id: 0, host: set.host }] }, extra);
    run(db, { replSetInitiate: config }, [ALREADY_INITIALIZED]);
    log(`initiated replica set ${set.name}`);
  }
  waitFor(`${set.name} to elect a primary`, () => run(db, { hello: 1 }).isWritablePrimary);
}

function sameKey(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function shardCollections(router, keys) {
  const config = router.getSiblingDB("config");
  for (const [collection, key] of Object.entries(keys)) {
    const namespace = `${DATABASE}.${collection}`;
    // MongoDB 8 also lists unsharded collections it tracks ("unsplittable"): not sharded yet.
    const existing = config
      .getCollection("collections")
      .findOne({ _id: namespace, unsplittable: { $ne: true } });
    if (existing !== null) {
      if (!sameKey(existing.key, key)) {
        throw new Error(
          `${namespace} is sharded by ${JSON.stringify(existing.key)}, not ` +
            `${JSON.stringify(key)}: change it with reshardCollection`,
        );
      }
      log(`${namespace} already sharded by ${JSON.stringify(key)}`);
      continue;
    }
    run(router, { shardCollection: namespace, key: key });
    log(`sharded ${namespace} by ${JSON.stringify(key)}`);
  }
}

function main() {
  const table = JSON.parse(fs.readFileSync(KEYS_FILE, "utf8"));

  initiate(CONFIG, { configsvr: true });
  for (const shard of SHARDS) {
    initiate(shard);
  }

  const router = admin(ROUTER);
  waitFor("mongos to reach the config servers", () => run(router, { listShards: 1 }));
  for (const shard of SHARDS) {
    run(router, { addShard: `${shard.name}/${shard.host}`, name: shard.name });
  }
  log(`shards: ${SHARDS.map((s) => s.name).join(", ")}`);

  run(router, { enableSharding: DATABASE, primaryShard: SHARDS[0].name });
  shardCollections(router, table.shardKeys);
  log(`unsharded, on ${SHARDS[0].name}: ${table.unsharded.join(", ")}`);
}

main();
