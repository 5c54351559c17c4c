/** Seed 001's examples, copied character for character (seed-copies.test.ts checks them against the seed's text). */

export const SEED_POST = `{
			"job_id": "your Job ID",
			"activation": {
				"time_utc": 1617386100
			},
			"deactivation": {
				"time_utc": 1617393600
			},
			"description": "My Wednesday broadcast"
		}`;
export const SEED_POST_ANSWER = `{
	"account_id": "1752604059001",
	"activation": {
		"state": "pending",
		"time_utc": 1617386100
	},
	"deactivation": {
		"state": "pending",
		"time_utc": 1617393600
	},
	"description": "My Wednesday broadcast",
	"job_id": "15981d93877e490185e6ebc9af2c79a3",
	"type": "jobstartstop",
	"workflow_id": "d44cf29f4f184757ac0995beb8a0097e"
}`;
export const SEED_PUT = `{
	"deactivation": {
		"time_utc": 1617391800
	}
}`;
export const SEED_PUT_ANSWER = `{
	"account_id": "1752604059001",
	"activation": {
		"state": "pending",
		"time_utc": 1617386100
	},
	"deactivation": {
		"state": "pending",
		"time_utc": 1617391800
	},
	"description": "My Wednesday broadcast",
	"job_id": "15981d93877e490185e6ebc9af2c79a3",
	"type": "jobstartstop",
	"workflow_id": "d44cf29f4f184757ac0995beb8a0097e"
}`;
export const SEED_DELETE_ANSWER = `{
		"account_id": "1752604059001",
		"activation": {
			"state": "cancelled",
			"time_utc": 1617386100
		},
		"deactivation": {
			"state": "cancelled",
			"time_utc": 1617391800
		},
		"description": "My Wednesday broadcast",
		"job_id": "15981d93877e490185e6ebc9af2c79a3",
		"type": "jobstartstop",
		"workflow_id": "d44cf29f4f184757ac0995beb8a0097e"
	}`;

// The example body with notifications.
export const SEED_NOTIFICATIONS = `{
		"job_id": "your Job ID",
		"activation": {
			"time_utc": 1612274100,
			"notification": 600
		},
		"deactivation": {
			"time_utc": 1612281600,
			"notification": 600
		},
		"description": "My Tuesday broadcast",
		"notification_url": "https://example.com/live/jobstartstop/callbacks"
	}`;
