-- The HR schema of the historical migration: departments, jobs, hired employees, a demo
-- function and a view of hires per year and month. Idempotent: safe to run again.

CREATE TABLE IF NOT EXISTS departments (
    id         int4 PRIMARY KEY,
    department varchar(255)
);

CREATE TABLE IF NOT EXISTS jobs (
    id  int4 PRIMARY KEY,
    job varchar(255)
);

CREATE TABLE IF NOT EXISTS hired_employees (
    id            int4 PRIMARY KEY,
    name          varchar(255),
    datetime      timestamp,
    department_id int4 REFERENCES departments (id),
    job_id        int4 REFERENCES jobs (id)
);

CREATE OR REPLACE FUNCTION hello_world() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN 'Hello, World!';
END;
$$;

CREATE OR REPLACE VIEW view_example_hired_employees AS
SELECT extract(year FROM datetime)::int AS year,
       extract(month FROM datetime)::int AS month,
       count(*) AS hired
FROM hired_employees
WHERE datetime IS NOT NULL
GROUP BY 1, 2;
