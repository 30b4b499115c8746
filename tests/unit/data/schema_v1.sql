-- a tunehooks 0.1.0 database (schema version 1), as sqlite3's .dump writes it: one experiment,
-- three trials (2 completed, 1 pruned), 9 reports. Written by the code at commit 8c25f7a.
BEGIN TRANSACTION;
CREATE TABLE experiments (
	id INTEGER NOT NULL, 
	name VARCHAR(256) NOT NULL, 
	config TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
INSERT INTO "experiments" VALUES(1,'digits-v1','{"budget": {"cost": null, "trials": 3}, "fidelity": null, "method": "random", "metrics": [{"goal": "maximize", "name": "acc", "strategy": "optimize", "threshold": null}], "optimizer_options": {}, "seed": 1, "space": {"constraints": [], "params": [{"high": 1.0, "log": true, "low": 0.0001, "name": "lr", "type": "float"}, {"choices": ["sgd", "adam"], "name": "opt", "type": "categorical"}]}, "version": 1}',1.79615353848505282397e+09);
CREATE TABLE reports (
	id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	step INTEGER NOT NULL, 
	metrics TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_report_step UNIQUE (trial_id, step), 
	FOREIGN KEY(trial_id) REFERENCES trials (id) ON DELETE CASCADE
);
INSERT INTO "reports" VALUES(1,1,1,'{"acc": 0.51}',1.79615353852725076672e+09);
INSERT INTO "reports" VALUES(2,1,2,'{"acc": 0.52}',1.79615353852727031706e+09);
INSERT INTO "reports" VALUES(3,1,3,'{"acc": 0.53}',1.79615353852727484707e+09);
INSERT INTO "reports" VALUES(4,2,1,'{"acc": 0.61}',1.79615353852873969073e+09);
INSERT INTO "reports" VALUES(5,2,2,'{"acc": 0.62}',1.79615353852875256541e+09);
INSERT INTO "reports" VALUES(6,2,3,'{"acc": 0.63}',1.79615353852875757213e+09);
INSERT INTO "reports" VALUES(7,3,1,'{"acc": 0.71}',1.79615353852999806404e+09);
INSERT INTO "reports" VALUES(8,3,2,'{"acc": 0.72}',1.79615353853000950809e+09);
INSERT INTO "reports" VALUES(9,3,3,'{"acc": 0.73}',1.79615353853001523017e+09);
CREATE TABLE trials (
	id INTEGER NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	number INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	params TEXT NOT NULL, 
	fidelity FLOAT, 
	metric_values TEXT, 
	error TEXT, 
	worker_id VARCHAR(256), 
	attempt INTEGER NOT NULL, 
	retry_of INTEGER, 
	created_at FLOAT NOT NULL, 
	started_at FLOAT, 
	finished_at FLOAT, 
	heartbeat_at FLOAT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_trial_number UNIQUE (experiment_id, number), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (id) ON DELETE CASCADE
);
INSERT INTO "trials" VALUES(1,1,0,'COMPLETED','{"lr": 0.011150298626945476, "opt": "sgd"}',NULL,'{"acc": 0.53}',NULL,'vm:8860',0,NULL,1.79615353851775121692e+09,1.79615353851775121692e+09,1.79615353852737569804e+09,1.79615353851775121692e+09);
INSERT INTO "trials" VALUES(2,1,1,'PRUNED','{"lr": 0.0021256392829592167, "opt": "sgd"}',NULL,'{"acc": 0.63}',NULL,'vm:8860',0,NULL,1.79615353852806735037e+09,1.79615353852806735037e+09,1.79615353852878022189e+09,1.79615353852806735037e+09);
INSERT INTO "trials" VALUES(3,1,2,'COMPLETED','{"lr": 0.006218141109212705, "opt": "sgd"}',NULL,'{"acc": 0.73}',NULL,'vm:8860',0,NULL,1.79615353852942156789e+09,1.79615353852942156789e+09,1.79615353853003907203e+09,1.79615353852942156789e+09);
CREATE TABLE tunehooks_meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "tunehooks_meta" VALUES('schema_version','1');
CREATE INDEX ix_trials_experiment_state ON trials (experiment_id, state);
COMMIT;
